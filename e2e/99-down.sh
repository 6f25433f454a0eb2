#!/usr/bin/env bash
# Last e2e script: `make down` (scripts/down.sh) removes the stack, the
# functions' services and definitions and the secrets, and leaves the swarm
# active. A second run is a no-op. The suite thus cleans up after itself.
source "$FX_ROOT/tests/lib.sh"
cd "$FX_ROOT" || exit 1

check "make down" bash -c "scripts/down.sh >'$T_DIR/down.log' 2>&1"
expect_eq "no stack service is left" "" "$(docker service ls -q --filter label=com.docker.stack.namespace=faas)"
expect_eq "no function service is left" "" "$(docker service ls -q --filter label=faas.managed-by=faas-controller)"
expect_eq "no function definition is left" "" "$(docker config ls -q --filter label=faas.function)"
expect_eq "no platform secret is left" "" "$(docker secret ls -q --filter label=faas.platform=true)"
expect_eq "no platform container is left" "" "$(docker ps -aq --filter label=com.docker.stack.namespace=faas)"
expect_eq "the swarm stays active" active "$(docker info --format '{{.Swarm.LocalNodeState}}')"
check "a second make down is a no-op" bash -c "scripts/down.sh >'$T_DIR/down2.log' 2>&1"
check "the gateway port is free again" wait_for 20 bash -c "! ss -ltnH 'sport = :${FAAS_PORT:-8080}' | grep -q ."
