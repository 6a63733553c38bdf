#!/usr/bin/env bash
# Checks that the #includes follow the dependency chain CMakeLists.txt
# declares:
#   executables (cli/, */main.cc) -> broker/ and services/ libraries
#     -> domain/, eventlog/, client/ -> render/ -> core/ -> proto (refx/v1/*.pb.h)
# Each rule below is "FOLDER;FORBIDDEN INCLUDE (extended regex);why[;EXCEPT]":
# no file under FOLDER (*.h, *.cc) may include a path matching the pattern,
# except files under the subfolder EXCEPT when given. FOLDER may also be a
# space-separated list of files and folders (shell patterns allowed). Run by
# CTest as `dependency_chain` (so by CI); by hand: tests/check_deps.sh [ROOT].
# Exit 0 when every rule holds, 1 with each violation listed otherwise.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

rules=(
  # The bottom floors know nothing of the floors above them.
  'core;^(client|domain|render|eventlog|broker|services|cli|tests|testsupport|bench)/;core is beneath everything but proto'
  'core;^zmq(\.h|\.hpp|_addon\.hpp)$;refx_core has no sockets: the ZeroMQ client is client/'
  'client;^(domain|render|eventlog|broker|services|cli|tests|testsupport|bench)/;the broker client uses core only'
  # The domain libraries are pure: beneath the processes, no sockets, no log.
  'domain;^(client|eventlog|broker|services|cli|tests|testsupport|bench)/;domain/ is pure: no client, no event log, nothing above it'
  'domain;^(zmq(\.h|\.hpp|_addon\.hpp)|rocksdb/.*)$;domain/ is pure: no sockets, no RocksDB'
  'eventlog;^(broker|services|cli|tests|testsupport|bench)/;eventlog is beneath the broker, services and cli'
  # The broker and the services are siblings, both beneath the executables.
  'broker;^(services|cli|tests|testsupport|bench)/;the broker uses eventlog and core only'
  'services;^(broker|cli|tests|testsupport|bench)/;the services use core only (and each other)'
  # Services are clients of the broker: they never open the log.
  'services;^eventlog/;services never link RocksDB (refx_eventlog); they read the log through the broker'
  'cli;^(broker|tests|testsupport|bench)/;the CLI talks to the broker over the wire'
  # The event log owns its key layout (issue 10 item 2).
  'broker;^eventlog/keys\.h$;the storage key layout is private to eventlog/'
  'services;^eventlog/keys\.h$;the storage key layout is private to eventlog/'
  'cli;^eventlog/keys\.h$;the storage key layout is private to eventlog/'
  # RocksDB: eventlog/ is the only product code that opens it (see
  # eventlog/CMakeLists.txt for the tests and benchmarks that do, and why).
  'core;^rocksdb/;only eventlog/ opens RocksDB'
  'broker;^rocksdb/;only eventlog/ opens RocksDB'
  'services;^rocksdb/;only eventlog/ opens RocksDB'
  'cli;^rocksdb/;only eventlog/ opens RocksDB'
  # refx does not link RocksDB: only the offline tool (cli/offline/,
  # refx-audit-offline) opens a log folder, through refx_eventlog.
  'cli;^(eventlog/(event_log|checkpoints|verifier|backup)\.h|rocksdb/.*)$;refx does not link RocksDB: what opens a log folder is refx-audit-offline (cli/offline/);cli/offline'
  # refx_chain (eventlog/CMakeLists.txt) is the chain without the database.
  'eventlog/hash_chain.* eventlog/fast_chain_hash.* eventlog/chain_checker.* eventlog/checkpoint_signing.* eventlog/findings.* eventlog/keys.*;^(eventlog/(event_log|checkpoints|verifier|backup)\.h|rocksdb/.*)$;refx_chain has no RocksDB: refx links it for online verification'
  # Adapters are clients of the broker like the services (issue 11 item 1):
  # what both use (the restart loop, the durable cursor file) is in client/.
  'adapters;^(eventlog/|broker/|services/|cli/|tests/|testsupport/|bench/);adapters never link RocksDB (refx_eventlog) and use nothing of the services: they talk to the broker'
  'adapters;^rocksdb/;only eventlog/ opens RocksDB'
  # The auditor's reads shared by refx and the console: a client of the
  # broker with the chain (refx_chain), never the log's database.
  'audit;^(broker|services|cli|console|adapters|tests|testsupport|bench)/;audit/ is beneath refx and the console, a client of the broker'
  'audit;^(eventlog/(event_log|checkpoints|verifier|backup|keys)\.h|rocksdb/.*)$;audit/ verifies through the broker with refx_chain, never the database'
  # The web console is a client of the broker, like the CLI.
  'console;^(broker|eventlog|cli|tests|testsupport|bench)/;the console talks to the broker over the wire'
  'console;^rocksdb/;only eventlog/ opens RocksDB'
)

# Known exceptions, one line each: "FOLDER;PATTERN" of a rule above that is
# reported but does not fail the check.
known=(
)

failed=0
for rule in "${rules[@]}"; do
  IFS=';' read -r folder pattern why except <<<"$rule"
  # shellcheck disable=SC2206  # the list is split and its patterns expanded on purpose
  places=($folder)
  for place in "${places[@]}"; do
    [[ -e "$place" ]] || { echo "check_deps: no file or folder $place (rule: $rule)" >&2; exit 2; }
  done
  exception=0
  for k in "${known[@]}"; do [[ "$k" == "$folder;$pattern" ]] && exception=1; done
  while read -r where path; do
    [[ -n "$path" && "$path" =~ $pattern ]] || continue
    [[ -n "$except" && "$where" == "$except"/* ]] && continue
    if ((exception)); then
      echo "known exception: $where includes $path ($why)"
    else
      echo "violation: $where includes $path ($why)"
      failed=1
    fi
  done < <(grep -rnHE --include='*.h' --include='*.cc' '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "${places[@]}" |
           sed -E 's/^([^:]+:[0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]+)[">].*/\1 \2/')
done
if ((failed)); then
  echo "dependency chain broken: see the violations above (rules in $0)" >&2
  exit 1
fi
echo "dependency chain holds (${#rules[@]} rules)"
