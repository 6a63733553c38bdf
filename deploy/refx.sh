#!/usr/bin/env bash
# refx.sh: the one entry script of Referral Exchange.
#
#   deploy/refx.sh deps     install the Debian 12 packages the project needs (when missing)
#   deploy/refx.sh build    configure and build (Release) into build/
#   deploy/refx.sh test     deps + build + the test suite (CTest), then again under ASan+UBSan
#   deploy/refx.sh up       start the stack in the background on loopback (state in var/)
#   deploy/refx.sh down     stop it
#   deploy/refx.sh status   show what runs and the broker's health
#   deploy/refx.sh demo     a fresh stack in var/demo: post the samples, show what happened, stop
#
# Environment: REFX_HOME (default var/) is the stack's state folder: config.textproto,
# keys/, data/ (the RocksDB event log), log/, run/ (pid files). JOBS sets build parallelism.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
ASAN_BUILD=$ROOT/build-asan
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
export REFX_HOME=${REFX_HOME:-$ROOT/var}

PACKAGES=(build-essential cmake pkg-config curl
          libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler librocksdb-dev
          libspdlog-dev libfmt-dev libsodium-dev libcli11-dev libcpp-httplib-dev
          libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'refx.sh: %s\n' "$*" >&2; exit 1; }

cmd_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || { say "deps: all ${#PACKAGES[@]} packages present"; return 0; }
  say "deps: installing ${missing[*]}"
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Unity builds (several sources per compiler run) halve the build on a
# two-core machine; REFX_UNITY=OFF builds file by file.
configure_and_build() {  # DIR BUILD_TYPE [cmake args...]
  local dir=$1 type=$2; shift 2
  # ccache, where installed, makes rebuilds in other checkouts cheap.
  command -v ccache >/dev/null && set -- "$@" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DCMAKE_UNITY_BUILD="${REFX_UNITY:-ON}" "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

cmd_build() {
  cmd_deps
  say "build: Release into build/"
  configure_and_build "$BUILD" Release
}

cmd_test() {
  cmd_build
  say "test: CTest (Release)"
  (cd "$BUILD" && ctest --output-on-failure -j "$JOBS" --timeout 300)
  say "test: CTest again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  # -O1 and line tables only: the sanitizers need no more, and it builds fast.
  configure_and_build "$ASAN_BUILD" RelWithDebInfo -DREFX_SANITIZE=ON -DREFX_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1"
  (cd "$ASAN_BUILD" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j "$JOBS" --timeout 600)
}

# --- the stack ---------------------------------------------------------------

config_value() {  # FIELD: first value of a "field: value" line in the stack's config
  grep -oP "^\s*$1:\s*\"?\K[^\"#]+" "$REFX_HOME/config.textproto" | head -n 1 | tr -d ' '
}

prepare_home() {
  # Every command may be the first one typed on a new machine: build (and so
  # install the packages) unless it is already done; the build is incremental.
  cmd_build
  mkdir -p "$REFX_HOME"/{data,log,run,keys}
  if [[ ! -f $REFX_HOME/config.textproto ]]; then
    cp "$ROOT/deploy/config/sevenoaks.textproto" "$REFX_HOME/config.textproto"
    if [[ -n ${REFX_PORT_BASE:-} ]]; then
      sed -i -E "s#tcp://127\.0\.0\.1:7400#tcp://127.0.0.1:${REFX_PORT_BASE}#; s#127\.0\.0\.1:7490#127.0.0.1:$((REFX_PORT_BASE + 90))#" \
        "$REFX_HOME/config.textproto"
    fi
  fi
  # Development keys: the broker's and one pair per agency in the configuration.
  local ids
  ids=$(grep -oP 'public_key_file:\s*"keys/\K[^".]+' "$REFX_HOME/config.textproto" | sort -u)
  "$BUILD/bin/refx" keys gen broker $ids --dir "$REFX_HOME/keys" >/dev/null
  "$BUILD/bin/refx" keys gen-subject-key "$REFX_HOME/keys/subject.hmac" >/dev/null
  # The broker signs checkpoints of the log head with keys/broker.sign.key;
  # auditors check them with keys/broker.sign.pub.
  "$BUILD/bin/refx" keys gen-signing-key broker --dir "$REFX_HOME/keys" >/dev/null
}

SERVICES=(router delivery outcomes)

running() {  # NAME: is the component's recorded pid alive?
  local pidfile=$REFX_HOME/run/$1.pid
  [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start_component() {  # NAME COMMAND...
  local name=$1; shift
  if running "$name"; then echo "$name already running (pid $(cat "$REFX_HOME/run/$name.pid"))"; return; fi
  nohup "$@" >>"$REFX_HOME/log/$name.log" 2>&1 &
  echo $! >"$REFX_HOME/run/$name.pid"
}

wait_healthy() {
  local addr; addr=$(config_value metrics_address)
  for _ in $(seq 1 100); do
    curl -sf "http://$addr/healthz" >/dev/null 2>&1 && return 0
    running broker || { tail -n 20 "$REFX_HOME/log/broker.log" >&2; die "the broker exited at start (log above)"; }
    sleep 0.1
  done
  die "the broker did not become healthy on $addr (see $REFX_HOME/log/broker.log)"
}

cmd_up() {
  prepare_home
  start_component broker "$BUILD/bin/refx-broker" --config "$REFX_HOME/config.textproto" \
    --data "$REFX_HOME/data" --key-dir "$REFX_HOME/keys"
  wait_healthy
  local svc
  for svc in "${SERVICES[@]}"; do
    start_component "$svc" "$BUILD/bin/refx-$svc" --config "$REFX_HOME/config.textproto" \
      --key-dir "$REFX_HOME/keys" --key-name "refx-$svc" --state-dir "$REFX_HOME/state/$svc"
  done
  sleep 0.3
  for svc in "${SERVICES[@]}"; do
    running "$svc" || { tail -n 20 "$REFX_HOME/log/$svc.log" >&2; die "refx-$svc exited at start (log above)"; }
  done
  say "up: stack running (state in $REFX_HOME)"
  cmd_status
}

cmd_down() {
  local name pid
  # Services first, the broker last, so that nothing is left talking to it.
  for f in $(ls "$REFX_HOME"/run/*.pid 2>/dev/null | grep -v '/broker.pid$') "$REFX_HOME/run/broker.pid"; do
    [[ -f $f ]] || continue
    name=$(basename "$f" .pid); pid=$(cat "$f")
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && { echo "$name did not stop in 10 s: killing"; kill -KILL "$pid"; }
      echo "stopped $name"
    fi
    rm -f "$f"
  done
}

cmd_status() {
  local any=0
  for f in "$REFX_HOME"/run/*.pid; do
    [[ -f $f ]] || continue
    any=1
    local name; name=$(basename "$f" .pid)
    if running "$name"; then echo "$name: running (pid $(cat "$f"))"; else echo "$name: NOT running"; fi
  done
  ((any)) || { echo "nothing running (state folder $REFX_HOME)"; return 0; }
  local addr; addr=$(config_value metrics_address)
  echo "broker endpoint: $(config_value frontend_endpoint)   health: $(curl -sf "http://$addr/healthz" || echo unreachable)"
}

referral_of() {  # FILE: the referral id `refx submit --json` printed for that sample
  grep -F "$(basename "$1")" "$REFX_HOME/submitted.jsonl" | grep -oP '"referralId":"\K[^"]+' | head -n 1
}

wait_for_case() {  # WHO STATE REFERRAL: poll the inbox until the case is in STATE (10 s at most)
  for _ in $(seq 1 100); do
    "${REFX[@]}" inbox list --as "$1" --json 2>/dev/null | grep -F "\"$3\"" | grep -q "\"$2\"" && return 0
    sleep 0.1
  done
  die "case $3 did not reach $2 at $1"
}

cmd_demo() {
  export REFX_HOME=$ROOT/var/demo REFX_PORT_BASE=${REFX_PORT_BASE:-7410}
  cmd_down >/dev/null 2>&1 || true
  rm -rf "$REFX_HOME"
  cmd_up
  REFX=("$BUILD/bin/refx" --home "$REFX_HOME")
  local samples=$ROOT/deploy/samples
  say "demo: agencies submit every sample referral (deploy/samples/, synthetic people)"
  "${REFX[@]}" submit --json "$samples"/*.json >"$REFX_HOME/submitted.jsonl"
  "${REFX[@]}" submit "$samples"/*.json | sed 's/duplicate: already accepted, nothing written/accepted/'
  say "demo: a retry of a referral already accepted is answered, not written again"
  "${REFX[@]}" submit "$samples/01-da-high-risk.json"
  say "demo: bad input is refused with the reason, and nothing is written"
  "${REFX[@]}" submit "$samples"/invalid/*.json || echo "(exit code $?: refused)"

  local da prevent outreach
  da=$(referral_of 01-da-high-risk.json)
  outreach=$(referral_of 03-da-medium-risk.json)
  prevent=$(referral_of 12-prevent-channel-adoption.json)
  wait_for_case DA_MARAC DELIVERED "$da"
  wait_for_case PREVENT DELIVERED "$prevent"
  wait_for_case DA_OUTREACH DELIVERED "$outreach"
  say "demo: the router and delivery service have routed every referral; each lead's inbox"
  for who in DA_MARAC IDVA DA_OUTREACH STALKING PREVENT DCSM CMARAC CSU_TRIAGE; do
    echo "--- $who"
    "${REFX[@]}" inbox list --as "$who"
  done
  say "demo: what the IDVA service is shown of $da (its need-to-know view only)"
  "${REFX[@]}" inbox show "$da" --as IDVA
  say "demo: the DA MARAC coordinator acknowledges, accepts and records an outcome for $da"
  "${REFX[@]}" inbox ack "$da" --as DA_MARAC
  "${REFX[@]}" inbox accept "$da" --as DA_MARAC --note "Listed for the next MARAC"
  "${REFX[@]}" inbox outcome "$da" LISTED_AT_MEETING --as DA_MARAC --note "Safety plan agreed"
  say "demo: an illegal step is refused and changes nothing (accepting twice)"
  "${REFX[@]}" inbox accept "$da" --as DA_MARAC || echo "(exit code $?: refused)"
  say "demo: another agency cannot act on a DA MARAC case"
  "${REFX[@]}" inbox ack "$da" --as IDVA --destination DA_MARAC || echo "(exit code $?: refused)"
  say "demo: DAVSS declines $outreach with a reason"
  "${REFX[@]}" inbox ack "$outreach" --as DA_OUTREACH
  "${REFX[@]}" inbox decline "$outreach" --as DA_OUTREACH --reason "Already supported by another service"
  say "demo: the Prevent gateway adopts $prevent: the router sends it on to the Channel panel"
  "${REFX[@]}" inbox ack "$prevent" --as PREVENT
  "${REFX[@]}" inbox accept "$prevent" --as PREVENT
  "${REFX[@]}" inbox outcome "$prevent" ADOPTED_TO_CHANNEL --as PREVENT --note "Gateway assessment complete"
  wait_for_case CHANNEL DELIVERED "$prevent"
  "${REFX[@]}" inbox list --as CHANNEL
  say "demo: the partnership's monitoring report (replayed from the log by the auditor identity)"
  local today; today=$(date -u +%F)
  "${REFX[@]}" report --from "$(date -u -d '-30 days' +%F)" --to "$today" --format md
  say "demo: the information-governance auditor reads $da's timeline (the read itself is recorded)"
  "${REFX[@]}" audit timeline "$da" --purpose "demo: case review"
  say "demo: ... and the second look shows the first one as record_accessed"
  "${REFX[@]}" audit timeline "$da" --purpose "demo: second look" | tail -n 2
  say "demo: what each agency had been told about $da, and the case states, as of now"
  "${REFX[@]}" audit as-of "$(date -u +%FT%TZ)" "$da" --purpose "demo: point-in-time view"
  say "demo: online verification through the broker: chain, seqs, signed checkpoints"
  "${REFX[@]}" audit verify --purpose "demo: integrity check" --signing-pub "$REFX_HOME/keys/broker.sign.pub"
  say "demo: a backup while the broker runs, restored and verified offline"
  "${REFX[@]}" admin backup "$REFX_HOME/backups"
  "${REFX[@]}" admin restore "$REFX_HOME/backups" --to "$REFX_HOME/restored"
  "${REFX[@]}" audit verify --db "$REFX_HOME/restored" --signing-pub "$REFX_HOME/keys/broker.sign.pub"
  say "demo: broker metrics"
  curl -sf "http://$(config_value metrics_address)/metrics" | grep -E '^refx_(submissions|appends|duplicates|errors|log_head|audit_reads|checkpoints)'
  cmd_down
  say "demo: done (state kept in $REFX_HOME)"
}

case ${1:-} in
  deps) cmd_deps ;;
  build) cmd_build ;;
  test) cmd_test ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  demo) cmd_demo ;;
  *) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
