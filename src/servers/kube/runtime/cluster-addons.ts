/**
 * What every cluster gets at start, as EKS installs it: the cluster DNS — the `coredns`
 * Deployment in kube-system (two replicas of our DNS image, dnsPolicy Default), its service
 * account and RBAC, and the `kube-dns` Service on the tenth address of the service range.
 * Created when missing; left alone when present (users may scale or edit them).
 */
import {
  isStatus,
  resourcePath,
  type KubeHttpClient,
} from '../../../adapters/kube/kube-http-client.js';

export const clusterDomain = 'cluster.local';
export const clusterDnsIp = '10.100.0.10';

const labels = { 'k8s-app': 'kube-dns' };

export interface AddonObject {
  readonly path: string;
  readonly body: Record<string, unknown>;
}

const objects: readonly AddonObject[] = [
  {
    path: resourcePath('v1', 'serviceaccounts', 'kube-system'),
    body: {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'coredns', namespace: 'kube-system' },
    },
  },
  {
    path: resourcePath('rbac.authorization.k8s.io/v1', 'clusterroles'),
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns', labels: { 'eks.amazonaws.com/component': 'coredns' } },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        {
          apiGroups: ['discovery.k8s.io'],
          resources: ['endpointslices'],
          verbs: ['list', 'watch'],
        },
      ],
    },
  },
  {
    path: resourcePath('rbac.authorization.k8s.io/v1', 'clusterrolebindings'),
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:coredns',
      },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
  },
  {
    path: resourcePath('v1', 'services', 'kube-system'),
    body: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'kube-dns',
        namespace: 'kube-system',
        labels: {
          ...labels,
          'kubernetes.io/cluster-service': 'true',
          'kubernetes.io/name': 'CoreDNS',
        },
      },
      spec: {
        selector: labels,
        clusterIP: clusterDnsIp,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
      },
    },
  },
  {
    path: resourcePath('apps/v1', 'deployments', 'kube-system'),
    body: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'coredns',
        namespace: 'kube-system',
        labels: { ...labels, 'eks.amazonaws.com/component': 'coredns' },
      },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels: { ...labels, 'eks.amazonaws.com/component': 'coredns' } },
          spec: {
            serviceAccountName: 'coredns',
            dnsPolicy: 'Default',
            priorityClassName: 'system-cluster-critical',
            terminationGracePeriodSeconds: 5,
            tolerations: [{ key: 'CriticalAddonsOnly', operator: 'Exists' }],
            containers: [
              {
                name: 'coredns',
                image: 'sgpods/cluster-dns:1.0',
                args: [clusterDomain],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                resources: {
                  limits: { memory: '170Mi' },
                  requests: { cpu: '100m', memory: '70Mi' },
                },
                readinessProbe: { tcpSocket: { port: 53 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    },
  },
];

/** Creates the add-ons' objects that are missing (the cluster DNS, then `extra`). */
export async function ensureClusterAddons(
  client: KubeHttpClient,
  extra: readonly AddonObject[] = [],
): Promise<void> {
  for (const { path, body } of [...objects, ...extra]) {
    const name = (body.metadata as { name: string }).name;
    // Looked up first: creating a Service again would fail on its ClusterIP before its name.
    const present = await client.get(`${path}/${name}`).then(
      () => true,
      (error: unknown) => {
        if (isStatus(error, 'NotFound')) return false;
        throw error;
      },
    );
    if (present) continue;
    await client.create(path, body).catch((error: unknown) => {
      if (!isStatus(error, 'AlreadyExists')) throw error;
    });
  }
}
