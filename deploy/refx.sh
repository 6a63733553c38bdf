#!/usr/bin/env bash
# refx.sh: the one entry script of Referral Exchange.
#
#   deploy/refx.sh deps     install the Debian 12 packages the project needs (when missing)
#   deploy/refx.sh build    configure and build (Release) into build/
#   deploy/refx.sh test     deps + build + the test suite (CTest), then again under ASan+UBSan
#   deploy/refx.sh up       start the stack in the background on loopback (state in var/)
#   deploy/refx.sh down     stop it
#   deploy/refx.sh status   show what runs and the broker's health; exit 0 when all of
#                           the stack runs, 1 when part of it does, 3 when none of it does
#   deploy/refx.sh demo [--verbose]
#                           a fresh stack in var/demo: post the samples, walk some cases
#                           through their lifecycle, audit, stop (--verbose: every output)
#   deploy/refx.sh privacy-sweep [STATE_DIR]
#                           search every log, metric, alert and state file of a stack (default
#                           var/) for the sample people's data (deploy/privacy_sweep.py); exit 1
#                           naming file and line when any is found (the demo ends with it)
#   deploy/refx.sh samples [--today YYYY-MM-DD] DIR
#                           copy deploy/samples/ into DIR, dated for today (or that day)
#   deploy/refx.sh faults [--short] [--seed N]
#                           fault trials against the real processes (SIGKILL, power loss on
#                           refx-faultfs, full file system, SIGSTOP, stepped clock): one table
#   deploy/refx.sh soak --minutes N [--kill-every S]
#                           steady load with periodic kills; RSS, fds, disk use: var/faults/soak.html
#   deploy/refx.sh bench [OUT_DIR]
#                           refx beside Redis Streams and RabbitMQ in one run, plus the
#                           lifecycle and audit figures: one table (bench/compare.sh)
#   deploy/refx.sh fuzz [SECONDS | --replay]
#                           build the libFuzzer targets (clang, build-fuzz/), replay their seed
#                           corpora, then fuzz each for SECONDS (default 60; --replay: none):
#                           executions, corpus size and crashes per target (fuzz/README.md)
#
# Environment: REFX_HOME (default var/) is the stack's state folder: config.textproto,
# keys/, data/ (the RocksDB event log), log/, run/ (pid files). REFX_PORT_BASE (demo: 7610)
# moves every port of a new state folder's configuration (default 7400: broker 7400,
# metrics 7490; the services' metrics and health follow at base+91..94: router 7491,
# delivery 7492, outcomes 7493, notifier 7494; the kent-police adapter's HTTP intake base+80 (7480)
# and its metrics base+85 (7485)). JOBS sets build parallelism.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
ASAN_BUILD=$ROOT/build-asan
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
export REFX_HOME=${REFX_HOME:-$ROOT/var}

PACKAGES=(build-essential cmake pkg-config curl
          libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler librocksdb-dev
          libspdlog-dev libfmt-dev libsodium-dev libcli11-dev libcpp-httplib-dev libkainjow-mustache-dev
          libhowardhinnant-date-dev libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
          libssl-dev jq liboath-dev openssl chromium chromium-driver python3-selenium
          libcsv-dev libcurl4-openssl-dev python3-aiosmtpd
          libfuse3-dev fuse3 faketime python3
          clang-14 libclang-rt-14-dev libfuzzer-14-dev lld)

# Only for `bench` (peers and their client libraries), installed by it, never by deps.
BENCH_PACKAGES=(redis-server rabbitmq-server librabbitmq-dev libhiredis-dev)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'refx.sh: %s\n' "$*" >&2; exit 1; }

cmd_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # The console's browser test installs axe-core with npm (into build/, at
  # test time): a machine with its own Node.js keeps it; a bare Debian gets
  # Debian's npm.
  command -v npm >/dev/null || missing+=(npm)
  ((${#missing[@]})) || { say "deps: all ${#PACKAGES[@]} packages present"; return 0; }
  say "deps: installing ${missing[*]}"
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Unity builds (several sources per compiler run) halve the build on a
# two-core machine; REFX_UNITY=OFF builds file by file.
cmd_bench() {  # [OUT_DIR]
  PACKAGES=("${BENCH_PACKAGES[@]}")  # the project's own come with build; bench adds only its peers
  cmd_deps
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD="${REFX_UNITY:-ON}" "${launcher[@]}" >/dev/null
  cmake --build "$BUILD" -j "$JOBS" --target refx-bench-ingest refx-bench-redis refx-bench-rabbitmq \
    refx-bench-lifecycle refx-bench-audit refx
  bash "$ROOT/bench/compare.sh" "$BUILD/bin" "$@"
}

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
  # clang-14 (installed for the fuzz targets) builds it in about two thirds
  # of GCC's time; -O1 and line tables only: the sanitizers need no more. A
  # build-asan/ that GCC configured (before clang built it) starts afresh.
  if [[ -f $ASAN_BUILD/CMakeCache.txt ]] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++-14$' "$ASAN_BUILD/CMakeCache.txt"; then
    rm -rf "$ASAN_BUILD"
  fi
  configure_and_build "$ASAN_BUILD" RelWithDebInfo -DREFX_SANITIZE=ON -DREFX_BUILD_BENCH=OFF \
    -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1"
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
  [[ -n ${REFX_BUILT:-} ]] || cmd_build
  mkdir -p "$REFX_HOME"/{data,log,run,keys}
  if [[ ! -f $REFX_HOME/config.textproto ]]; then
    cp "$ROOT/deploy/config/sevenoaks.textproto" "$REFX_HOME/config.textproto"
    # REFX_PORT_BASE moves every loopback port of the configuration by the
    # same amount (the sample's ports start at 7400: broker 7400, metrics 7490).
    if [[ -n ${REFX_PORT_BASE:-} ]]; then
      perl -pi -e 's/127\.0\.0\.1:(\d+)/"127.0.0.1:" . ($1 - 7400 + $ENV{REFX_PORT_BASE})/ge' \
        "$REFX_HOME/config.textproto"
    fi
  fi
  add_console_people
  # Development keys: the broker's and one pair per agency in the configuration.
  local ids
  ids=$(grep -oP 'public_key_file:\s*"keys/\K[^".]+' "$REFX_HOME/config.textproto" | sort -u)
  "$BUILD/bin/refx" keys gen broker $ids --dir "$REFX_HOME/keys" >/dev/null
  "$BUILD/bin/refx" keys gen-subject-key "$REFX_HOME/keys/subject.hmac" >/dev/null
  # The broker signs checkpoints of the log head with keys/broker.sign.key;
  # auditors check them with keys/broker.sign.pub.
  "$BUILD/bin/refx" keys gen-signing-key broker --dir "$REFX_HOME/keys" >/dev/null
  # The master key wrapping each referral's data key (encryption at rest).
  "$BUILD/bin/refx" keys gen-master-key "$REFX_HOME/keys/broker.master.key" >/dev/null
  prepare_adapters
}

# The agency adapters (refx-adapter, adapters/README.md): one for kent-police
# from deploy/config/adapters/, its paths relative to the state folder, its
# ports moved with REFX_PORT_BASE like the rest; a development bearer token in
# keys/AGENCY.token (the token alone on one line; the adapter keeps its hash).
ADAPTERS=(kent-police)

prepare_adapters() {
  local a cfg
  for a in "${ADAPTERS[@]}"; do
    cfg=$REFX_HOME/$a.adapter.textproto
    mkdir -p "$REFX_HOME/inbox/$a" "$REFX_HOME/spool"
    if [[ ! -f $cfg ]]; then
      cp "$ROOT/deploy/config/adapters/$a.textproto" "$cfg"
      if [[ -n ${REFX_PORT_BASE:-} ]]; then
        perl -pi -e 's/127\.0\.0\.1:(\d+)/"127.0.0.1:" . ($1 - 7400 + $ENV{REFX_PORT_BASE})/ge' "$cfg"
      fi
    fi
    if [[ ! -s $REFX_HOME/keys/$a.token ]]; then
      (umask 077; "$BUILD/bin/refx" tokens issue "$a-dev" --file "$REFX_HOME/keys/$a.tokens" \
        >"$REFX_HOME/keys/$a.token" 2>/dev/null)
    fi
  done
}

adapter_value() {  # AGENCY FIELD: first value of a "field: value" line in its adapter config
  grep -oP "^\s*$2:\s*\"?\K[^\"#]+" "$REFX_HOME/$1.adapter.textproto" | head -n 1 | tr -d ' '
}

start_adapters() {
  local a addr
  for a in "${ADAPTERS[@]}"; do
    start_component "adapter-$a" "$BUILD/bin/refx-adapter" --config "$REFX_HOME/$a.adapter.textproto"
    addr=$(adapter_value "$a" metrics_address)
    for _ in $(seq 1 100); do
      curl -s --max-time 1 "http://$addr/healthz" >/dev/null 2>&1 && break
      running "adapter-$a" || { tail -n 20 "$REFX_HOME/log/adapter-$a.log" >&2; die "refx-adapter for $a exited at start (log above)"; }
      sleep 0.1
    done
  done
}

# --- samples dated relative to today ----------------------------------------

# Writes a copy of every JSON file under SRC (sub-folders too) into OUT with
# every date in a JSON string ("YYYY-MM-DD", alone or starting a timestamp)
# moved by TODAY - the reference date that SRC/README.md names on a line
# "Reference date: YYYY-MM-DD". Intervals between dates, ages and "within N
# months of today" all stay as on the reference date. Dates in prose are
# not moved, so samples write none (deploy/samples/README.md).
shift_samples() {  # SRC OUT TODAY
  local src=$1 out=$2 today=$3 ref days f
  ref=$(grep -oP '^Reference date: \K[0-9]{4}-[0-9]{2}-[0-9]{2}' "$src/README.md") \
    || die "$src/README.md names no \"Reference date: YYYY-MM-DD\" line"
  days=$(( ($(date -u -d "$today 12:00" +%s) - $(date -u -d "$ref 12:00" +%s)) / 86400 ))
  rm -rf "$out"
  mkdir -p "$out"
  while IFS= read -r f; do
    mkdir -p "$out/$(dirname "$f")"
    TZ=UTC perl -MPOSIX -pe 'BEGIN { $days = shift @ARGV }
      s{"(\d{4})-(\d\d)-(\d\d)(?=["T])}{"\"" . strftime("%Y-%m-%d",
        gmtime(mktime(0, 0, 12, $3, $2 - 1, $1 - 1900) + $days * 86400))}ge' "$days" "$src/$f" >"$out/$f"
  done < <(cd "$src" && find . -name '*.json' | sort)
  echo "$days"
}

cmd_samples() {  # [--today YYYY-MM-DD] OUT
  local today out
  today=$(date -u +%F)
  if [[ ${1:-} == --today ]]; then today=${2:?--today needs a date}; shift 2; fi
  out=${1:?usage: deploy/refx.sh samples [--today YYYY-MM-DD] OUT_DIR}
  local days; days=$(shift_samples "$ROOT/deploy/samples" "$out" "$today")
  echo "samples: deploy/samples/ dated for $today (moved by $days days) in $out"
}

SERVICES=(router delivery outcomes notifier)

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

start_broker() {
  start_component broker "$BUILD/bin/refx-broker" --config "$REFX_HOME/config.textproto" \
    --data "$REFX_HOME/data" --key-dir "$REFX_HOME/keys"
  wait_healthy
}

# SERVICE: the loopback address of its /metrics and /healthz. The ports sit
# beside the broker's metrics port (base+90 in the configuration): router
# base+91, delivery base+92, outcomes base+93, notifier base+94; so the demo's stack
# (base 7610: 7701..7704) and an `up` stack (base 7400: 7491..7494) do not collide.
service_metrics_address() {
  local broker_metrics i
  broker_metrics=$(config_value metrics_address)
  for i in "${!SERVICES[@]}"; do
    [[ ${SERVICES[$i]} == "$1" ]] && { echo "127.0.0.1:$((${broker_metrics##*:} + i + 1))"; return; }
  done
}

start_services() {
  local svc
  for svc in "${SERVICES[@]}"; do
    start_component "$svc" "$BUILD/bin/refx-$svc" --config "$REFX_HOME/config.textproto" \
      --key-dir "$REFX_HOME/keys" --key-name "refx-$svc" --state-dir "$REFX_HOME/state/$svc" \
      --metrics "$(service_metrics_address "$svc")"
  done
  sleep 0.3
  for svc in "${SERVICES[@]}"; do
    running "$svc" || { tail -n 20 "$REFX_HOME/log/$svc.log" >&2; die "refx-$svc exited at start (log above)"; }
  done
}

# The web console's identity (role CONSOLE) and development people: one lead
# per destination (lead-<DESTINATION>, of the destination's agency), an
# auditor (of the first AUDITOR agency) and an admin (of the first ADMIN
# agency), added to the stack's own copy of the configuration when it has
# none (never to deploy/config/).
add_console_people() {
  local conf=$REFX_HOME/config.textproto
  if ! grep -q '"refx-console"' "$conf"; then
    printf '\n# --- The web console (added by deploy/refx.sh) ---\nagencies {\n  id: "refx-console"\n  name: "refx web console: acts for the named people below"\n  roles: [CONSOLE]\n  public_key_file: "keys/refx-console.pub"\n}\n' >>"$conf"
  fi
  grep -q '^people {' "$conf" && return 0
  perl -0 -ne '
    my ($auditor) = /agencies \{\s*id: "([^"]+)"[^}]*?roles: \[[^\]]*AUDITOR/s;
    my ($admin) = /agencies \{\s*id: "([^"]+)"[^}]*?roles: \[[^\]]*ADMIN/s;
    print "\n# --- Development people of the web console (added by deploy/refx.sh) ---\n";
    while (/^destinations \{(.*?)^\}/msg) {
      my $b = $1; my ($code) = $b =~ /code: "([^"]+)"/; my ($agency) = $b =~ /agency_id: "([^"]+)"/;
      print "people { id: \"lead-$code\" name: \"Lead for $code (development)\" agency_id: \"$agency\" roles: [LEAD] destinations: [\"$code\"] }\n";
    }
    print "people { id: \"auditor\" name: \"Auditor (development)\" agency_id: \"$auditor\" roles: [AUDITOR] }\n" if $auditor;
    print "people { id: \"admin\" name: \"Console admin (development)\" agency_id: \"$admin\" roles: [ADMIN] }\n" if $admin;
  ' "$conf" >>"$conf.people"
  cat "$conf.people" >>"$conf" && rm -f "$conf.people"
}

# The console listens on the broker's port + 43: 7443 for `up`, 7653 for the demo.
console_address() {
  local broker; broker=$(config_value frontend_endpoint)
  echo "127.0.0.1:$((${broker##*:} + 43))"
}

# A self-signed development certificate and one account per configured
# person (or only the person ids given: the demo makes one), whose generated
# passwords stay in keys/console-dev-logins.txt.
start_console() {
  local keys=$REFX_HOME/keys logins=$REFX_HOME/keys/console-dev-logins.txt id only=" $* "
  if [[ ! -f $keys/console.crt ]]; then
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
       -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
       -keyout "$keys/console.key" -out "$keys/console.crt" 2>/dev/null) || die "openssl could not make var/keys/console.crt"
  fi
  (umask 077 && touch "$logins")
  chmod 600 "$logins"
  for id in $(perl -0 -ne 'print "$1\n" while /^people \{\s*id: "([^"]+)"/mg' "$REFX_HOME/config.textproto"); do
    grep -q "^$id " "$logins" && continue
    [[ $only == "  " || $only == *" $id "* ]] || continue
    "$BUILD/bin/refx" users add "$id" --store "$REFX_HOME/console/accounts" >>"$logins" 2>/dev/null ||
      "$BUILD/bin/refx" users reset "$id" --store "$REFX_HOME/console/accounts" >>"$logins"
  done
  start_component console "$BUILD/bin/refx-console" --config "$REFX_HOME/config.textproto" \
    --key-dir "$REFX_HOME/keys" --state-dir "$REFX_HOME/console" --cert "$keys/console.crt" \
    --cert-key "$keys/console.key" --listen "$(console_address)"
  for _ in $(seq 1 50); do
    curl -sk --max-time 1 "https://$(console_address)/" >/dev/null 2>&1 && return 0
    running console || { tail -n 20 "$REFX_HOME/log/console.log" >&2; die "refx-console exited at start (log above)"; }
    sleep 0.1
  done
}

cmd_up() {
  prepare_home
  start_broker
  start_services
  start_adapters
  start_console
  say "up: stack running (state in $REFX_HOME)"
  cmd_status || true
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

# Exit codes of `status` (those of an LSB init script's status action):
#   0  the stack is fully running: the broker and every service answer /healthz
#   1  partly running: a component has stopped (its pid file is left) or one does not answer /healthz
#   3  not running: no component runs
cmd_status() {
  local name up=0 down=0 unhealthy=0 addr health
  for name in broker "${SERVICES[@]}"; do
    if running "$name"; then
      if [[ $name == broker ]]; then
        echo "$name: running (pid $(cat "$REFX_HOME/run/$name.pid"))"
      else
        addr=$(service_metrics_address "$name")
        # A 503 still has a body that says why; no answer at all is "unreachable".
        health=$(curl -s --max-time 2 "http://$addr/healthz") || health=""
        [[ $health == *'"status":"ok"'* ]] || unhealthy=$((unhealthy + 1))
        echo "$name: running (pid $(cat "$REFX_HOME/run/$name.pid"))   health (http://$addr/healthz): ${health:-unreachable}"
      fi
      up=$((up + 1))
    else
      echo "$name: NOT running"; down=$((down + 1))
    fi
  done
  for name in "${ADAPTERS[@]}"; do
    [[ -f $REFX_HOME/$name.adapter.textproto ]] || continue
    if running "adapter-$name"; then
      addr=$(adapter_value "$name" metrics_address)
      health=$(curl -s --max-time 2 "http://$addr/healthz") || health=""
      [[ $health == *'"status":"ok"'* ]] || unhealthy=$((unhealthy + 1))
      echo "adapter-$name: running (pid $(cat "$REFX_HOME/run/adapter-$name.pid"))   health (http://$addr/healthz): ${health:-unreachable}"
      echo "    HTTP intake: http://$(adapter_value "$name" listen)/v1/referrals   token: $REFX_HOME/keys/$name.token   drop folder: $REFX_HOME/inbox/$name/"
      up=$((up + 1))
    else
      echo "adapter-$name: NOT running"; down=$((down + 1))
    fi
  done
  if ((up == 0)); then
    echo "stack: not running (state folder $REFX_HOME; start it with deploy/refx.sh up)"
    return 3
  fi
  if running console; then
    echo "console: running (pid $(cat "$REFX_HOME/run/console.pid"))   https://$(console_address)/   (development sign-ins: $REFX_HOME/keys/console-dev-logins.txt)"
  elif [[ -f $REFX_HOME/run/console.pid ]]; then
    echo "console: NOT running (https://$(console_address)/)"; down=$((down + 1))
  fi
  addr=$(config_value metrics_address)
  health=$(curl -sf --max-time 2 "http://$addr/healthz") || health=""
  echo "broker endpoint: $(config_value frontend_endpoint)   health (http://$addr/healthz): ${health:-unreachable}"
  if ((down > 0 || unhealthy > 0)) || [[ -z $health ]]; then
    echo "stack: partly running (logs in $REFX_HOME/log/; deploy/refx.sh up starts what is missing)"
    return 1
  fi
  echo "stack: running (state folder $REFX_HOME)"
}

# --- the demo ----------------------------------------------------------------

VERBOSE=0
DEMO_LOG=/dev/null

chapter() { printf '\n\033[1m%s\033[0m\n' "$*"; }
indent() { sed 's/^/    /'; }
# CMD...: its output, indented. (A failure stops the demo.)
show() { "$@" 2>&1 | indent; }
# CMD...: its first line, all of it with --verbose (and in the demo's log).
brief() {
  local out
  out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; die "demo: failed: ${*#"${REFX[0]}"}"; }
  printf '%s\n' "$out" >>"$DEMO_LOG"
  # The first line without a pipe into head: under pipefail, head leaving
  # early would fail the demo with SIGPIPE on a long output.
  if ((VERBOSE)); then printf '%s\n' "$out" | indent; else printf '%s\n' "${out%%$'\n'*}" | indent; fi
}
# CMD...: its output with --verbose; otherwise into the demo's log only.
detail() {
  if ((VERBOSE)); then "$@" 2>&1 | indent; else "$@" >>"$DEMO_LOG" 2>&1; fi
}
# CMD...: a step the stack must refuse; shows the reason and the exit code.
# The demo fails if the step is carried out.
refused() {
  local rc=0 out
  out=$("$@" 2>&1) || rc=$?
  ((rc != 0)) || { printf '%s\n' "$out" >&2; die "demo: this should have been refused: ${*#"${REFX[0]}"}"; }
  printf '%s\n(exit code %d: refused, nothing written)\n' "$out" "$rc" | indent
}

# The demo's stand-in for the partnership's SMTP relay: Debian's aiosmtpd on
# the configuration's alerts.smtp_url port, writing each alert it takes into
# the maildir $REFX_HOME/mail (stopped by `down` like the rest).
start_mail_capture() {
  local port; port=$(config_value smtp_url); port=${port##*:}
  start_component mail /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$REFX_HOME/mail"
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
  die "the demo's SMTP server did not start on 127.0.0.1:$port (see $REFX_HOME/log/mail.log)"
}

# The demo's stand-in for Kent Police's case system: deploy/webhook_receiver.py
# on base+27 (7427 for `up`'s base, 7637 in the demo), and a webhooks block
# in the kent-police adapter's configuration sending it every PREVENT case.
setup_demo_webhook() {
  local base=${REFX_PORT_BASE:-7400} cfg=$REFX_HOME/kent-police.adapter.textproto
  (umask 077; /usr/bin/python3 -c 'import secrets; print(secrets.token_hex(32))' >"$REFX_HOME/keys/kent-police-webhook.secret")
  cat >>"$cfg" <<EOT
# The demo's webhook: every PREVENT case to the stand-in case system.
webhooks {
  name: "kent-police-case-system"
  destination: "PREVENT"
  url: "http://127.0.0.1:$((base + 27))/cases"
  secret_file: "keys/kent-police-webhook.secret"
}
EOT
  start_component webhook-receiver "$ROOT/deploy/webhook_receiver.py" --listen "127.0.0.1:$((base + 27))" \
    --secret-file "$REFX_HOME/keys/kent-police-webhook.secret" --out "$REFX_HOME/case-system"
}

show_webhook() {  # REFERRAL: what the stand-in case system took of it (10 s at most)
  for _ in $(seq 1 100); do
    grep -q "^$1/PREVENT/" "$REFX_HOME/case-system/received.log" 2>/dev/null && break
    sleep 0.1
  done
  grep "^$1/PREVENT/" "$REFX_HOME/case-system/received.log" 2>/dev/null | indent \
    || die "the stand-in case system did not receive $1 (see $REFX_HOME/log/adapter-kent-police.log)"
  detail echo "--- what it was sent (the PREVENT need-to-know view, protobuf JSON)"
  detail cat "$REFX_HOME/case-system/$1-PREVENT-1.json"
}

show_alerts() {  # REFERRAL: the subjects of the alerts captured that name it (10 s at most)
  # A referral is named in its own alert's subject, or in the list of a
  # digest (many new cases for one destination at once, as here: the demo's
  # referrals were all submitted before the notifier started).
  local n files
  for _ in $(seq 1 100); do
    n=$(grep -l -F -- "$1" "$REFX_HOME"/mail/new/* 2>/dev/null | wc -l)
    ((n >= 2)) && break
    sleep 0.1
  done
  files=$(grep -l -F -- "$1" "$REFX_HOME"/mail/new/* 2>/dev/null)
  [[ -n $files ]] || die "no alert about $1 reached the demo's SMTP server"
  # shellcheck disable=SC2086  # one path per line, no spaces in them
  grep -h "^\(To\|Subject\): " $files </dev/null | indent
  detail echo "--- one alert, whole"
  detail cat "${files%%$'\n'*}"
}

wait_for_case() {  # WHO STATE REFERRAL: poll the inbox until the case is in STATE (10 s at most)
  for _ in $(seq 1 100); do
    "${REFX[@]}" inbox list --as "$1" --json 2>/dev/null | grep -F "\"$3\"" | grep -q "\"$2\"" && return 0
    sleep 0.1
  done
  die "case $3 did not reach $2 at $1"
}

cmd_demo() {
  case ${1:-} in
    --verbose | -v) VERBOSE=1 ;;
    "") ;;
    *) die "usage: deploy/refx.sh demo [--verbose]" ;;
  esac
  export REFX_HOME=$ROOT/var/demo REFX_PORT_BASE=${REFX_PORT_BASE:-7610}
  cmd_down >/dev/null 2>&1 || true
  rm -rf "$REFX_HOME"
  mkdir -p "$REFX_HOME"
  ((VERBOSE)) || DEMO_LOG=$REFX_HOME/demo.log
  printf '\033[1mrefx demo: safeguarding referrals between the agencies of a Community Safety Partnership\033[0m\n'
  echo "Synthetic people only. Everything runs on this machine, state in $REFX_HOME."
  ((VERBOSE)) || echo "Each command's full output: $DEMO_LOG (or run deploy/refx.sh demo --verbose)."

  chapter "1. Start the broker: it authenticates agencies and keeps the event log"
  if ((VERBOSE)); then cmd_build; else
    echo "    (installing and building first when needed: a few minutes the first time)"
    # Its own process, so that `set -e` holds inside it while a failure is caught here.
    "$ROOT/deploy/refx.sh" build >>"$DEMO_LOG" || die "the build failed (see $DEMO_LOG)"
  fi
  export REFX_BUILT=1
  if ((VERBOSE)); then prepare_home; start_broker; else prepare_home >>"$DEMO_LOG"; start_broker >>"$DEMO_LOG"; fi
  REFX=("$BUILD/bin/refx" --home "$REFX_HOME")
  echo "    agencies connect to $(config_value frontend_endpoint) (ZeroMQ, CURVE); metrics at http://$(config_value metrics_address)/metrics"

  local samples=$REFX_HOME/samples days
  days=$(shift_samples "$ROOT/deploy/samples" "$samples" "$(date -u +%F)")
  local count; count=$(find "$samples" -maxdepth 1 -name '*.json' | wc -l)
  chapter "2. Police, health, housing, schools and the council submit $count sample referrals"
  echo "    (deploy/samples/, synthetic, every date moved $days days so that they are as recent today as when written)"
  # One file at a time, so that the referral ids follow the files' order (one
  # `refx submit` of many files sends each agency's files in its own batches,
  # agency by agency).
  local f line; declare -A id_of
  : >"$REFX_HOME/submitted.txt"
  for f in "$samples"/*.json; do
    line=$(cd "$samples" && "${REFX[@]}" submit "$(basename "$f")")
    echo "$line" >>"$REFX_HOME/submitted.txt"
    id_of[$(basename "$f")]=${line%% *}
  done
  if ((VERBOSE)); then indent <"$REFX_HOME/submitted.txt"; else
    head -n 3 "$REFX_HOME/submitted.txt" | indent
    echo "    ... and so on to"
    tail -n 1 "$REFX_HOME/submitted.txt" | indent
  fi
  local da=${id_of[01-da-high-risk.json]} outreach=${id_of[03-da-medium-risk.json]}
  local prevent=${id_of[12-prevent-channel-adoption.json]}

  chapter "3. A retry of an accepted referral gets the same answer and writes nothing"
  (cd "$samples" && show "${REFX[@]}" submit 01-da-high-risk.json)
  chapter "4. Bad referrals are refused with the reason, and nothing is written"
  (cd "$samples" && refused "${REFX[@]}" submit invalid/*.json)

  chapter "5. The router, delivery, outcomes and notifier services start, read the log and route each referral"
  start_mail_capture
  setup_demo_webhook
  if ((VERBOSE)); then start_services; start_adapters; else start_services >>"$DEMO_LOG"; start_adapters >>"$DEMO_LOG"; fi
  # `status` is checked here and after the stop, so CI (which runs the demo)
  # notices when its exit code goes wrong.
  detail cmd_status || die "deploy/refx.sh status says the stack is not fully running"
  echo "    where the partnership's rules say; the DA MARAC coordinator's inbox:"
  wait_for_case DA_MARAC DELIVERED "$da"
  wait_for_case PREVENT DELIVERED "$prevent"
  wait_for_case DA_OUTREACH DELIVERED "$outreach"
  show "${REFX[@]}" inbox list --as DA_MARAC
  echo "    the leads are told by e-mail (ids, destination, deadline and where to look; no personal data;"
  echo "    many new cases for one destination at once come in one e-mail listing them):"
  show_alerts "$da"
  echo "    Kent Police's own case system gets each PREVENT case from its adapter (signed webhook), e.g.:"
  show_webhook "$prevent"
  local who
  for who in IDVA DA_OUTREACH STALKING PREVENT DCSM CMARAC CSU_TRIAGE; do
    detail echo "--- $who"
    detail "${REFX[@]}" inbox list --as "$who"
  done
  detail echo "--- what the IDVA service is shown of $da (its need-to-know view only)"
  detail "${REFX[@]}" inbox show "$da" --as IDVA

  chapter "6. The DA MARAC coordinator acknowledges $da, accepts it and records the outcome"
  show "${REFX[@]}" inbox ack "$da" --as DA_MARAC
  show "${REFX[@]}" inbox accept "$da" --as DA_MARAC --note "Listed for the next MARAC"
  show "${REFX[@]}" inbox outcome "$da" LISTED_AT_MEETING --as DA_MARAC --note "Safety plan agreed"

  chapter "7. Steps out of turn are refused and change nothing"
  echo "    declining $da, already accepted:"
  refused "${REFX[@]}" inbox decline "$da" --as DA_MARAC --reason "Changed our mind"
  echo "    the IDVA service acting on the DA MARAC's case:"
  refused "${REFX[@]}" inbox ack "$da" --as look-ahead-idva --destination DA_MARAC
  detail "${REFX[@]}" inbox ack "$outreach" --as DA_OUTREACH
  detail "${REFX[@]}" inbox decline "$outreach" --as DA_OUTREACH --reason "Already supported by another service"
  echo "    DAVSS declined $outreach (already supported elsewhere); an outcome on it afterwards:"
  refused "${REFX[@]}" inbox outcome "$outreach" ACCEPTED_SUPPORT --as DA_OUTREACH

  chapter "8. The Prevent gateway adopts $prevent; the outcome opens a case at the Channel panel"
  detail "${REFX[@]}" inbox ack "$prevent" --as PREVENT
  detail "${REFX[@]}" inbox accept "$prevent" --as PREVENT
  detail "${REFX[@]}" inbox outcome "$prevent" ADOPTED_TO_CHANNEL --as PREVENT --note "Gateway assessment complete"
  wait_for_case CHANNEL DELIVERED "$prevent"
  show "${REFX[@]}" inbox list --as CHANNEL

  chapter "9. The information-governance auditor reads $da's history (the read is itself recorded)"
  show "${REFX[@]}" audit timeline "$da" --purpose "demo: case review"
  detail echo "--- a second look shows the first one as record_accessed"
  detail "${REFX[@]}" audit timeline "$da" --purpose "demo: second look"
  detail echo "--- what each agency had been told about $da, and the case states, as of now"
  detail "${REFX[@]}" audit as-of "$(date -u +%FT%TZ)" "$da" --purpose "demo: point-in-time view"

  chapter "10. The log checks out: hash chain, seqs and signed checkpoints, live and from a backup"
  echo "    through the running broker:"
  brief "${REFX[@]}" audit verify --purpose "demo: integrity check" --signing-pub "$REFX_HOME/keys/broker.sign.pub"
  detail "${REFX[@]}" admin backup "$REFX_HOME/backups"
  detail "${REFX[@]}" admin restore "$REFX_HOME/backups" --to "$REFX_HOME/restored"
  echo "    a backup taken while it runs, restored and checked offline (indexes too):"
  brief "${REFX[@]}" audit verify --db "$REFX_HOME/restored" --signing-pub "$REFX_HOME/keys/broker.sign.pub"

  chapter "11. The partnership's monitoring report, replayed from the log"
  "${REFX[@]}" report --from "$(date -u -d '-30 days' +%F)" --to "$(date -u +%F)" --format md >"$REFX_HOME/report.md"
  if ((VERBOSE)); then indent <"$REFX_HOME/report.md"; else echo "    written to $REFX_HOME/report.md"; fi
  detail echo "--- the broker's metrics"
  detail sh -c "curl -sf 'http://$(config_value metrics_address)/metrics' | grep -E '^refx_(submissions|appends|duplicates|errors|log_head|audit_reads|checkpoints)'"

  chapter "12. Kent Police's own case system posts a referral over HTTP to its adapter"
  local intake token body
  intake=http://$(adapter_value kent-police listen)
  token=$(cat "$REFX_HOME/keys/kent-police.token")
  body=$REFX_HOME/kp-http-referral.json
  jq '.referrerReference = "KP-HTTP-0001"' "$samples/01-da-high-risk.json" >"$body"
  echo "    curl -H 'Authorization: Bearer ...' -H 'Content-Type: application/json' --data @referral.json $intake/v1/referrals?wait=durable"
  show curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data "@$body" \
    "$intake/v1/referrals?wait=durable"
  echo "    without a token, the adapter refuses it (RFC 9457 problem):"
  show curl -s -H 'Content-Type: application/json' --data "@$body" "$intake/v1/referrals"
  wait_for_case DA_MARAC DELIVERED "$(curl -s -H "Authorization: Bearer $token" "$intake/v1/referrals/KP-HTTP-0001" | jq -r .referralId)"
  echo "    its status, as Kent Police may see it (GET /v1/referrals/KP-HTTP-0001):"
  show sh -c "curl -s -H 'Authorization: Bearer $token' '$intake/v1/referrals/KP-HTTP-0001' | jq -c '{state, referralId, seq, destinations}'"

  chapter "13. Kent Police's records system drops its DA incident export (CSV) into the adapter's folder"
  demo_file_drop

  chapter "14. The web console: the DA MARAC coordinator signs in and finds $da in the inbox"
  demo_console "$da"

  chapter "15. No personal data in any log, metric, alert or state file: a sentinel sweep"
  echo "    the sample people's names, dates of birth, addresses, phones, e-mails and narratives, searched for"
  echo "    in every file of $REFX_HOME (raw data folder and backups byte by byte) and every /metrics and /healthz:"
  demo_privacy_sweep

  if ((VERBOSE)); then cmd_down; else cmd_down >>"$DEMO_LOG"; fi
  # Again once stopped: what the components wrote while stopping.
  demo_privacy_sweep >/dev/null
  local rc=0
  cmd_status >>"$DEMO_LOG" || rc=$?
  ((rc == 3)) || die "deploy/refx.sh status exits $rc, not 3, with the stack stopped"
  chapter "Done: the stack is stopped; its state is kept in $REFX_HOME."
  echo "Your own stack: deploy/refx.sh up, then build/bin/refx --help (README.md has the rest)."
}

# The demo's web console (README: refx-console): started on the broker's
# port + 43 (7653), a lead signs in with curl as a browser would (the
# sign-in form's CSRF token and cookie, then the session cookie) and the
# inbox page shows REFERRAL at DA_MARAC.
demo_console() {
  local referral=$1 addr jar page csrf password code inbox row
  # Only the one sign-in the demo uses (each takes an Argon2id hash); `up` makes one per person.
  if ((VERBOSE)); then start_console lead-DA_MARAC; else start_console lead-DA_MARAC >>"$DEMO_LOG" 2>&1; fi
  addr=$(console_address)
  echo "    https://$addr/ (self-signed development certificate); lead-DA_MARAC's sign-in in $REFX_HOME/keys/console-dev-logins.txt"
  jar=$REFX_HOME/console-demo.cookies
  password=$(awk '$1 == "lead-DA_MARAC" { print $2 }' "$REFX_HOME/keys/console-dev-logins.txt")
  [[ -n $password ]] || die "demo: no development sign-in for lead-DA_MARAC"
  page=$(curl -sk -c "$jar" "https://$addr/")
  csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' <<<"$page" | head -n 1 | sed 's/.*value="//; s/"$//')
  echo "    curl: sign in as lead-DA_MARAC (POST /login with the form's CSRF token), then GET /inbox"
  code=$(curl -sk -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' --data-urlencode "csrf=$csrf" \
    --data-urlencode "username=lead-DA_MARAC" --data-urlencode "password=$password" "https://$addr/login")
  [[ $code == 303 ]] || die "demo: the console refused lead-DA_MARAC's sign-in (HTTP $code)"
  inbox=$(curl -sk -b "$jar" -H 'Accept: text/html' "https://$addr/inbox")
  rm -f "$jar"
  row=$(perl -0 -ne 'print "$1\n" if /<tr[^>]*data-referral="\Q'"$referral"'\E" data-destination="DA_MARAC">(.*?)<\/tr>/s' <<<"$inbox" |
    sed 's/<[^>]*>/ /g' | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')
  [[ -n $row ]] || die "demo: $referral is not in lead-DA_MARAC's inbox page"
  echo "    the inbox row of $referral: $row"
}

# The demo's privacy sweep: what it searched and its verdict (all of it with
# --verbose); the demo fails, showing the findings, if it finds personal data.
demo_privacy_sweep() {
  local out
  out=$(cmd_privacy_sweep "$REFX_HOME" 2>&1) || { printf '%s\n' "$out" >&2; die "demo: the privacy sweep found personal data (above)"; }
  printf '%s\n' "$out" >>"$DEMO_LOG"
  if ((VERBOSE)); then printf '%s\n' "$out" | indent; else printf '%s\n' "$out" | sed -n '1p;$p' | indent; fi
}

# The demo's file drop (adapters/filedrop/README.md): the sample police
# export renamed into kent-police's drop folder, taken whole; then a copy
# with one impossible date, whose good rows go through while the file goes
# to rejected/ with a report.
demo_file_drop() {
  local inbox=$REFX_HOME/inbox/kent-police name i
  name=da-incidents-$(date -u +%Y%m%dT%H%M%S).csv
  cp "$ROOT/deploy/samples/kent-police-da-incidents.csv" "$inbox/.$name.part"
  echo "    mv da-incidents.csv $inbox/   (6 rows, written elsewhere then renamed in: taken at once)"
  mv "$inbox/.$name.part" "$inbox/$name"
  for i in $(seq 1 100); do [[ -f $inbox/done/$name ]] && break; sleep 0.1; done
  [[ -f $inbox/done/$name ]] || die "demo: the adapter did not take $name from its drop folder"
  show ls "$inbox/done/"
  sed -e '3s#,19/11/2026,#,31/11/2026,#' "$ROOT/deploy/samples/kent-police-da-incidents.csv" >"$inbox/.bad-$name.part"
  mv "$inbox/.bad-$name.part" "$inbox/bad-$name"
  for i in $(seq 1 100); do [[ -f $inbox/rejected/bad-$name.report.txt ]] && break; sleep 0.1; done
  [[ -f $inbox/rejected/bad-$name.report.txt ]] || die "demo: the adapter did not reject bad-$name"
  echo "    the same export with one impossible date: the good rows go through, the file to rejected/ with a report:"
  show sed -n -e '/^rows /p' -e '/^bad-/p' "$inbox/rejected/bad-$name.report.txt"
  detail sh -c "curl -sf 'http://$(adapter_value kent-police metrics_address)/metrics' | grep -E '^refx_adapter_drop_'"
}

# --- the privacy sweep (deploy/privacy_sweep.py; docs/SECURITY.md) ------------

# [STATE_DIR]: the stack's state folder (default REFX_HOME). The status
# output goes into STATE_DIR/privacy-sweep/status.txt and is searched with
# the rest; the /metrics and /healthz of every component that runs are
# searched too. Exit 1 when personal data is found.
cmd_privacy_sweep() {
  if [[ -n ${1:-} ]]; then REFX_HOME=$(cd "$1" && pwd) || die "privacy-sweep: no folder $1"; fi
  [[ -f $REFX_HOME/config.textproto ]] || die "privacy-sweep: $REFX_HOME holds no stack (no config.textproto)"
  local urls=() name addr
  mkdir -p "$REFX_HOME/privacy-sweep"
  cmd_status >"$REFX_HOME/privacy-sweep/status.txt" 2>&1 || true
  if running broker; then
    addr=$(config_value metrics_address)
    urls+=(--url "broker=http://$addr/metrics" --url "broker=http://$addr/healthz")
  fi
  for name in "${SERVICES[@]}"; do
    running "$name" || continue
    addr=$(service_metrics_address "$name")
    urls+=(--url "$name=http://$addr/metrics" --url "$name=http://$addr/healthz")
  done
  for name in "${ADAPTERS[@]}"; do
    running "adapter-$name" || continue
    addr=$(adapter_value "$name" metrics_address)
    urls+=(--url "adapter-$name=http://$addr/metrics" --url "adapter-$name=http://$addr/healthz")
  done
  /usr/bin/python3 "$ROOT/deploy/privacy_sweep.py" "$REFX_HOME" "${urls[@]}"
}

# --- fault trials and soak (tests/faults/faults.py; docs/RELIABILITY.md) -----

cmd_faults() {  # faults|soak [ARGS...]
  cmd_build
  [[ $(id -u) == 0 ]] || echo "refx.sh: not root: the power-loss and full-disk trials need FUSE mounts (and tmpfs without FUSE)" >&2
  python3 -B "$ROOT/tests/faults/faults.py" "$@" --build "$BUILD" --work "$ROOT/var/faults"
}

# --- fuzzing (fuzz/README.md) ------------------------------------------------

FUZZ_BUILD=$ROOT/build-fuzz
FUZZ_TARGETS=(frame json_referral partnership_config adapter_config csv_drop http_intake)

fuzz_seeds() {  # TARGET: its seed folders, the repository's corpus first (read only)
  echo "$ROOT/fuzz/corpus/$1"
  case $1 in
    json_referral | csv_drop) echo "$ROOT/deploy/samples" ;;
    partnership_config) echo "$ROOT/deploy/config" ;;
    adapter_config) echo "$ROOT/deploy/config/adapters" ;;
  esac
}

cmd_fuzz() {  # [SECONDS | --replay]
  local seconds=${1:-60}
  [[ $seconds == --replay ]] && seconds=0
  [[ $seconds =~ ^[0-9]+$ ]] || die "fuzz: SECONDS must be a whole number (or --replay)"
  cmd_deps
  say "fuzz: the libFuzzer targets with clang-14 into build-fuzz/"
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$ROOT" -B "$FUZZ_BUILD" -DREFX_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 \
    -DCMAKE_UNITY_BUILD="${REFX_UNITY:-ON}" "${launcher[@]}" >/dev/null
  cmake --build "$FUZZ_BUILD" -j "$JOBS"
  local t failed=0 rows=()
  for t in "${FUZZ_TARGETS[@]}"; do
    local bin=$FUZZ_BUILD/bin/fuzz_$t work=$FUZZ_BUILD/corpus/$t crashes=$FUZZ_BUILD/crashes/$t
    local log=$FUZZ_BUILD/fuzz_$t.log seeds
    mapfile -t seeds < <(fuzz_seeds "$t")
    rm -rf "$crashes"  # this run's crashes only (a fixed one's input belongs in fuzz/corpus/)
    mkdir -p "$work" "$crashes"
    # ASan finds leaks too; UBSan stops at its first report (-fno-sanitize-recover).
    local opts=(-artifact_prefix="$crashes/" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)
    say "fuzz: $t: replaying ${seeds[*]#"$ROOT/"}"
    local status=0
    "$bin" "${opts[@]}" -runs=0 "${seeds[@]}" >"$log" 2>&1 || status=$?
    if ((status == 0 && seconds > 0)); then
      say "fuzz: $t: fuzzing for ${seconds}s (new inputs in ${work#"$ROOT/"})"
      "$bin" "${opts[@]}" -max_total_time="$seconds" "$work" "${seeds[@]}" >>"$log" 2>&1 || status=$?
    fi
    local execs corpus found
    execs=$(grep -oP '^stat::number_of_executed_units:\s*\K\d+' "$log" | awk '{n += $1} END {print n + 0}')
    corpus=$(grep -oP '^#\d+\s+DONE\s.*corp: \K\d+' "$log" | tail -n 1)
    found=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    ((status == 0 && found == 0)) || failed=1
    ((status == 0)) || { echo "--- ${log#"$ROOT/"} (exit $status)"; grep -E -A25 '^==[0-9]+==|runtime error|fuzz_[a-z_]+: ' "$log" | head -n 60; }
    rows+=("$(printf '%-20s %12s %8s %8s' "$t" "${execs:-0}" "${corpus:-?}" "$found")")
  done
  printf '%-20s %12s %8s %8s\n' target executions corpus crashes
  printf '%s\n' "${rows[@]}"
  ((failed == 0)) || die "fuzz: a target crashed; the inputs are in build-fuzz/crashes/ (fuzz/README.md: reproduce, fix, add to the corpus)"
}

case ${1:-} in
  deps) cmd_deps ;;
  build) cmd_build ;;
  test) cmd_test ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  demo) shift; cmd_demo "$@" ;;
  samples) shift; cmd_samples "$@" ;;
  privacy-sweep) shift; cmd_privacy_sweep "$@" ;;
  faults | soak) cmd_faults "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  fuzz) shift; cmd_fuzz "$@" ;;
  *) sed -n '2,/^[^#]/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
