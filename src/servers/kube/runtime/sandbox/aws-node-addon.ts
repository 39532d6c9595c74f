/**
 * The `aws-node` DaemonSet as EKS installs it (the VPC CNI add-on), running our node agent:
 * hostNetwork, tolerating every taint (it must run on NotReady nodes: it is what makes them
 * Ready), its service account and RBAC, and aws-node's environment — `ENABLE_POD_ENI=false`
 * until the user turns it on, as on a new EKS cluster (plus, beyond upstream's role, reading
 * SecurityGroupPolicies and ServiceAccounts for fail-closed ADD, and patching its Node for the
 * has-trunk-attached label). The node's CNI directories and the
 * agent's state live in the home, named per node through `$(MY_NODE_NAME)`.
 */
import { join } from 'node:path';
import { resourcePath } from '../../../../adapters/kube/kube-http-client.js';
import type { AddonObject } from '../cluster-addons.js';

export const awsNodeImage = 'sgpods/aws-node:v1.19.2';

const labels = { 'k8s-app': 'aws-node' };
const serviceAccountCa = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

export function awsNodeObjects(home: string, region: string): AddonObject[] {
  const nodeDirectory = join(home, 'kube', 'nodes', '$(MY_NODE_NAME)', 'cni');
  return [
    {
      path: resourcePath('v1', 'serviceaccounts', 'kube-system'),
      body: {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'aws-node', namespace: 'kube-system' },
      },
    },
    {
      path: resourcePath('rbac.authorization.k8s.io/v1', 'clusterroles'),
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'aws-node', labels: { 'app.kubernetes.io/name': 'aws-node' } },
        rules: [
          {
            apiGroups: ['crd.k8s.amazonaws.com'],
            resources: ['eniconfigs'],
            verbs: ['list', 'watch', 'get'],
          },
          { apiGroups: [''], resources: ['namespaces', 'pods'], verbs: ['list', 'watch', 'get'] },
          { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch', 'get', 'patch'] },
          {
            apiGroups: ['', 'events.k8s.io'],
            resources: ['events'],
            verbs: ['create', 'patch', 'list'],
          },
          {
            apiGroups: ['vpcresources.k8s.aws'],
            resources: ['cninodes'],
            verbs: ['get', 'list', 'watch', 'patch'],
          },
          // Beyond upstream: fail-closed ADD asks whether a pod matches a policy.
          {
            apiGroups: ['vpcresources.k8s.aws'],
            resources: ['securitygrouppolicies'],
            verbs: ['get', 'list', 'watch'],
          },
          { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get'] },
        ],
      },
    },
    {
      path: resourcePath('rbac.authorization.k8s.io/v1', 'clusterrolebindings'),
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'aws-node' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'aws-node' },
        subjects: [{ kind: 'ServiceAccount', name: 'aws-node', namespace: 'kube-system' }],
      },
    },
    {
      path: resourcePath('apps/v1', 'daemonsets', 'kube-system'),
      body: {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: {
          name: 'aws-node',
          namespace: 'kube-system',
          labels: {
            ...labels,
            'app.kubernetes.io/name': 'aws-node',
            'app.kubernetes.io/instance': 'aws-vpc-cni',
          },
        },
        spec: {
          selector: { matchLabels: labels },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
          template: {
            metadata: { labels: { ...labels, 'app.kubernetes.io/name': 'aws-node' } },
            spec: {
              priorityClassName: 'system-node-critical',
              serviceAccountName: 'aws-node',
              hostNetwork: true,
              terminationGracePeriodSeconds: 10,
              tolerations: [{ operator: 'Exists' }],
              containers: [
                {
                  name: 'aws-node',
                  image: awsNodeImage,
                  ports: [{ containerPort: 61678, name: 'metrics' }],
                  env: [
                    { name: 'ADDITIONAL_ENI_TAGS', value: '{}' },
                    { name: 'AWS_VPC_K8S_CNI_LOGLEVEL', value: 'DEBUG' },
                    { name: 'ENABLE_POD_ENI', value: 'false' },
                    { name: 'POD_SECURITY_GROUP_ENFORCING_MODE', value: 'strict' },
                    { name: 'WARM_IP_TARGET', value: '1' },
                    { name: 'AWS_REGION', value: region },
                    { name: 'NODE_EXTRA_CA_CERTS', value: serviceAccountCa },
                    {
                      name: 'MY_NODE_NAME',
                      valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } },
                    },
                    {
                      name: 'MY_POD_NAME',
                      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
                    },
                    { name: 'CNI_CONF_DIR', value: join(nodeDirectory, 'net.d') },
                    { name: 'CNI_BIN_DIR', value: join(nodeDirectory, 'bin') },
                    { name: 'AGENT_STATE_DIR', value: join(home, 'run', 'aws-node') },
                  ],
                  resources: { requests: { cpu: '25m' } },
                },
              ],
            },
          },
        },
      },
    },
  ];
}
