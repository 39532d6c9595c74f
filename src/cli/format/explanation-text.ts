/** The text form of `sgpods explain`: a verdict line, then each gate with its reason. */
import type { Evaluation, GateResult } from '../../core/sg/evaluator.js';
import type { World } from '../../core/sg/world.js';
import {
  describeMiss,
  describeRule,
  describeTraffic,
  interfaceLabel,
  summarizeGate,
  verdictWord,
} from './explanation-sentences.js';

const maxNearMisses = 5;

function gateLines(world: World, evaluation: Evaluation, gate: GateResult): string[] {
  const eni = gate.networkInterface;
  const where = eni ? interfaceLabel(world, eni) : 'no interface';
  const decision = gate.decision.toUpperCase();
  const lines = [`  ${gate.gate.padEnd(7)} ${decision.padEnd(14)} at ${where}`];
  lines.push(`          ${summarizeGate(world, gate, evaluation.flow)}`);
  if (gate.tracking) {
    lines.push(
      gate.tracking === 'tracked'
        ? '          tracked: replies pass by connection tracking, and the flow outlives a removed rule'
        : '          untracked (open both ways to 0.0.0.0/0 or ::/0): removing the rule cuts the flow at once',
    );
  }
  if (gate.decision === 'deny' && gate.nearMisses.length > 0) {
    lines.push('          closest rules:');
    for (const miss of gate.nearMisses.slice(0, maxNearMisses)) {
      lines.push(`            ${describeRule(world, miss.rule)}`);
      lines.push(`              ${describeMiss(world, gate, miss, evaluation.flow)}`);
    }
    if (gate.nearMisses.length > maxNearMisses) {
      lines.push(
        `            … and ${gate.nearMisses.length - maxNearMisses} more (see --output json)`,
      );
    }
  }
  for (const groupId of gate.unknownGroupIds)
    lines.push(`          warning: rules of ${groupId} are unknown`);
  for (const listId of gate.unknownPrefixListIds) {
    lines.push(`          warning: entries of ${listId} are unknown (pass --prefix-lists)`);
  }
  return lines;
}

export function explanationText(world: World, evaluation: Evaluation): string {
  const { flow } = evaluation;
  const header = `${verdictWord(evaluation)}: ${describeTraffic(flow)} from ${flow.source.text} to ${flow.destination.text}`;
  return (
    [
      header,
      ...gateLines(world, evaluation, evaluation.egress),
      ...gateLines(world, evaluation, evaluation.ingress),
    ].join('\n') + '\n'
  );
}
