/**
 * The explain box: the same question `sgpods explain <source> <target>[:port][/protocol]` takes,
 * answered by the server with the CLI's own text. Suggestions list the pods, Deployments and RDS
 * instances; a flow row or a pod's button fills it in and asks.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ExplainAnswer, Topology } from '../../../../src/core/dashboard/dashboard-model.js';

export interface Question {
  readonly source: string;
  readonly target: string;
  /** Set by whoever asks from elsewhere on the page: a new value asks again. */
  readonly asked?: number;
}

async function ask(source: string, target: string, probe: boolean): Promise<ExplainAnswer> {
  const query = new URLSearchParams({ source, target, ...(probe ? { probe: '1' } : {}) });
  try {
    const response = await fetch(`./api/explain?${query.toString()}`);
    return (await response.json()) as ExplainAnswer;
  } catch (error) {
    return { verdict: 'error', text: `the dashboard did not answer: ${String(error)}` };
  }
}

function suggestions(topology: Topology | undefined): string[] {
  if (!topology) return [];
  const owners = new Set(topology.pods.flatMap((pod) => (pod.owner ? [pod.owner] : [])));
  return [
    ...owners,
    ...topology.pods.filter((pod) => pod.network !== 'host').map((pod) => pod.ref),
    ...topology.databases.map((db) => db.ref),
  ];
}

export function ExplainBox(props: {
  topology: Topology | undefined;
  question: Question | undefined;
}) {
  const [source, setSource] = useState('');
  const [target, setTarget] = useState('');
  const [probe, setProbe] = useState(false);
  const [answer, setAnswer] = useState<ExplainAnswer | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const run = async (from: string, to: string) => {
    setBusy(true);
    setAnswer(await ask(from, to, probe));
    setBusy(false);
  };

  useEffect(() => {
    if (!props.question) return;
    setSource(props.question.source);
    setTarget(props.question.target);
    void run(props.question.source, props.question.target);
    // Only a new question asks; typing does not.
  }, [props.question]);

  const options = suggestions(props.topology);
  return (
    <form
      class="explain"
      aria-busy={busy}
      onSubmit={(event) => {
        event.preventDefault();
        void run(source, target);
      }}
    >
      <datalist id="explain-ends">
        {options.map((option) => (
          <option key={option} value={option} />
        ))}
      </datalist>
      <div class="explain-fields">
        <label>
          source
          <input
            name="source"
            list="explain-ends"
            placeholder="deploy/sg-per-pod/red-pod"
            value={source}
            onInput={(event) => setSource(event.currentTarget.value)}
            required
          />
        </label>
        <label>
          target[:port][/protocol]
          <input
            name="target"
            list="explain-ends"
            placeholder="rds/rds-eksworkshop:5432"
            value={target}
            onInput={(event) => setTarget(event.currentTarget.value)}
            required
          />
        </label>
      </div>
      <div class="explain-actions">
        <label class="inline">
          <input
            type="checkbox"
            checked={probe}
            onChange={(event) => setProbe(event.currentTarget.checked)}
          />
          probe (a real connection from the source's namespace)
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Explaining…' : 'Explain'}
        </button>
      </div>
      <div role="status" aria-live="polite" class="explain-answer" data-testid="explain-answer">
        {answer ? (
          <>
            <p class={`verdict ${answer.verdict}`} data-verdict={answer.verdict}>
              {answer.verdict === 'allowed'
                ? '✓ allowed'
                : answer.verdict === 'denied'
                  ? '✕ denied'
                  : '⚠ error'}
            </p>
            <pre>{answer.text}</pre>
          </>
        ) : null}
      </div>
    </form>
  );
}
