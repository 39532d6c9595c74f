#!/usr/bin/env bash
# The workshop's question, answered offline from describe-* output: green (branch ENI carrying
# POD_SG) reaches RDS on 5432, red (a secondary IP of the node ENI, node SG) does not.
# Exit 0 when that holds.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sgpods=(node "$here/../../dist/cli/main.js")
files=(--security-groups "$here/security-groups.json" --network-interfaces "$here/network-interfaces.json")
rds=eni-0d44e55f66a77b884

echo '== green pod (192.168.100.41, branch ENI) -> RDS tcp/5432'
"${sgpods[@]}" explain --from 192.168.100.41 --to "$rds" --protocol tcp --port 5432 "${files[@]}"
green=$?
echo
echo '== red pod (192.168.100.21, node ENI secondary IP) -> RDS tcp/5432'
"${sgpods[@]}" explain --from 192.168.100.21 --to "$rds" --protocol tcp --port 5432 "${files[@]}"
red=$?
echo
if [[ $green -eq 0 && $red -eq 1 ]]; then
  echo 'workshop: green allowed, red denied, as expected'
  exit 0
fi
echo "workshop: unexpected result (green exit $green, red exit $red)" >&2
exit 1
