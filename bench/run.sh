#!/usr/bin/env bash
# Load benchmark: Portico against nginx, haproxy, Caddy and bare YARP, side by side in one run.
#
#   bash bench/run.sh                    full run (about 12 minutes on 2 cores)
#   ROUNDS=1 DURATION=5 bash bench/run.sh      quick look
#   PEERS="portico nginx" SCENARIOS="hello kb" bash bench/run.sh
#
# Installs wrk, nginx, haproxy, caddy and h2load when missing, builds the backend, bare YARP and the Portico
# host in Release, starts them and nginx/haproxy/caddy (configs generated into a temp dir) on 127.0.0.1, and
# runs interleaved rounds: every scenario against every peer, round after round, so machine noise hits
# all peers alike. Prints one markdown table of medians (rps, p50, p99, peak RSS, rps ratio to nginx).
# Everything it started is killed on exit. See docs/benchmarks.md for what the numbers mean.
#
# Settings (environment):
#   ROUNDS=3         rounds of every scenario x peer; medians are over rounds
#   DURATION=8       seconds each measured load run lasts (plus WARMUP seconds before it, not measured)
#   WARMUP=2
#   PEERS="direct portico yarp nginx haproxy caddy"
#   SCENARIOS="hello kb slow256 slow2000 h2 auth nores cache full fanout hello1 fanout1 slowmax"
#                    the last six measure Portico's features against /hello (and the cache against nginx's
#                    proxy_cache); a second table gives the issues' targets as ratios
#   PIN=1            proxy on CPU 0; backend and load generator on CPU 1 (PIN=0: no pinning, nginx and
#                    haproxy get one worker per core)
#   ACCESS_LOG=1     Portico and nginx write an access log, each to a file in 64 KB batches flushed at least
#                    every second (Portico:AccessLog, nginx's buffer=64k flush=1s); 0 turns both off
#   SCHED=batch      every proxy runs under Linux's SCHED_BATCH policy (chrt -b 0), the deployment setting
#                    docs/benchmarks.md recommends for Portico; SCHED=other leaves all of them under the default policy
#   PORTICO_ENV="DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1"
#                    environment of the Portico process: the deployment settings that
#                    docs/benchmarks.md recommends (env-only runtime knobs; the rest is in Gateway.Host.csproj)
#   JIT_WARMUP=60    at least this many seconds of unmeasured load on each .NET peer before round 1, cycling
#                    through every path, and longer (up to 3x) while Portico's JIT still compiles 100+ methods a
#                    cycle, so that tiered compilation has promoted the hot paths (nginx and haproxy get none)
#   PAIRED=1         after the rounds, measure the feature checks (default resilience vs none, token vs
#                    anonymous, Portico's cache hit vs nginx's) as concurrent pairs: both contenders loaded at
#                    the same time on CPU 0, each in its own cpu cgroup with equal weight, so the machine's
#                    drifting speed hits both alike. Needs root and a cgroup cpu controller; skipped otherwise
#   MAX_CONNS        connections of the slowmax scenario: 10,000, or what `ulimit -n` lets a proxy hold (a client and an
#                    upstream descriptor per request); lower it where the system's file table runs out first
#   OUT=artifacts/bench   where the table, raw results and logs go
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
PEERS=${PEERS:-"direct portico yarp nginx haproxy caddy"}
SCENARIOS=${SCENARIOS:-"hello kb slow256 slow2000 h2 auth nores cache full fanout hello1 fanout1 slowmax"}
PIN=${PIN:-1}
ACCESS_LOG=${ACCESS_LOG:-1}
SCHED=${SCHED:-batch}
PORTICO_ENV=${PORTICO_ENV-"DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1"}
JIT_WARMUP=${JIT_WARMUP:-60}
PAIRED=${PAIRED:-1}
OUT=${OUT:-$root/artifacts/bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Ports: backend A/B (HTTP/1.1) and C (h2c, for "direct" h2); each peer has an HTTP/1.1 and an h2c port.
BACKEND_A=19001 BACKEND_B=19002 BACKEND_H2=19003
# portico2: a second, identical Portico for the paired checks.
declare -A H1_PORT=([direct]=$BACKEND_A [portico]=19101 [portico2]=19111 [yarp]=19201 [nginx]=19301 [haproxy]=19401 [caddy]=19501)
declare -A H2_PORT=([direct]=$BACKEND_H2 [portico]=19102 [portico2]=19112 [yarp]=19202 [nginx]=19302 [haproxy]=19402 [caddy]=19502)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------------------------------------- install
install_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v caddy >/dev/null || missing+=(caddy)
  command -v h2load >/dev/null || missing+=(nghttp2-client)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ------------------------------------------------------------------------------------------- processes
tmp=$(mktemp -d /tmp/portico-bench.XXXXXX)
chmod 755 "$tmp" # nginx workers run as an unprivileged user and write its cache here
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 0.5
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [ -n "$CG_ROOT" ] && { rmdir "$CG_ROOT"/*/ 2>/dev/null; rmdir "$CG_ROOT" 2>/dev/null; } || true
  rm -rf "$tmp"
}
CG_ROOT=
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$PIN" = 1 ]; then
  PROXY_CPU=(taskset -c 0) LOAD_CPU=(taskset -c 1) WRK_THREADS=1 WORKERS=1
else
  PROXY_CPU=() LOAD_CPU=() WRK_THREADS=2 WORKERS=$(nproc)
fi
# Every proxy runs under the same scheduling policy (docs/benchmarks.md, tuning log 28).
if [ "$SCHED" = batch ]; then PROXY_CPU+=(chrt -b 0); fi

declare -A PID=()
start() { # name, command...
  local name=$1; shift
  "$@" >"$OUT/logs/$name.log" 2>&1 &
  PID[$name]=$!
  pids+=($!)
}

wait_http() { # url
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  log "no answer from $1"; return 1
}

# Resident memory of a process and its children, in MB.
rss_mb() {
  local total=0 p kb
  for p in $1 $(pgrep -P "$1" 2>/dev/null || true); do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo $((total / 1024))
}

# ------------------------------------------------------------------------------------------------ peers
write_configs() {
  local access_nginx="off"
  [ "$ACCESS_LOG" = 1 ] && access_nginx="$tmp/nginx-access.log combined buffer=64k flush=1s"
  cat >"$tmp/nginx.conf" <<EOF
worker_processes $WORKERS;
worker_rlimit_nofile $(ulimit -n);
pid $tmp/nginx.pid;
error_log $OUT/logs/nginx-error.log warn;
daemon off;
events { worker_connections $(($(ulimit -n) - 50)); multi_accept on; }
http {
  access_log $access_nginx;
  client_body_temp_path $tmp/nginx-body;
  proxy_temp_path $tmp/nginx-proxy;
  proxy_cache_path $tmp/nginx-cache keys_zone=bench:10m max_size=64m inactive=10m;
  upstream backend {
    server 127.0.0.1:$BACKEND_A;
    server 127.0.0.1:$BACKEND_B;
    keepalive $MAX_CONNS;
  }
  server {
    listen 127.0.0.1:${H1_PORT[nginx]} reuseport backlog=4096;
    listen 127.0.0.1:${H2_PORT[nginx]} http2 backlog=4096;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location /cached/ {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_lock on;
      proxy_cache_use_stale error timeout updating;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
EOF
  cat >"$tmp/haproxy.cfg" <<EOF
global
  nbthread $WORKERS
  maxconn $((MAX_CONNS + 200))
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend h1
  bind 127.0.0.1:${H1_PORT[haproxy]} backlog 4096
  default_backend app
frontend h2
  bind 127.0.0.1:${H2_PORT[haproxy]} proto h2 backlog 4096
  default_backend app
backend app
  balance roundrobin
  server a 127.0.0.1:$BACKEND_A maxconn 12000
  server b 127.0.0.1:$BACKEND_B maxconn 12000
EOF
  # Caddy 2.6 (Debian's): reverse_proxy over kept-alive upstream connections, round robin; both ports take h1 and
  # h2c (2.6 sets protocols per server, and h2load's h2c goes to the second). No access log: Caddy's file log has no batching to match nginx's buffer=64k, so it runs without one.
  local caddy_site="reverse_proxy 127.0.0.1:$BACKEND_A 127.0.0.1:$BACKEND_B {
    lb_policy round_robin
    transport http {
      keepalive 2m
      keepalive_idle_conns 1024
      keepalive_idle_conns_per_host 512
    }
  }"
  # A new query string per request: every /full/hello request misses the cache.
  cat >"$tmp/unique.lua" <<'EOF'
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, wrk.path .. "?n=" .. n)
end
EOF
  cat >"$tmp/Caddyfile" <<EOF
{
  admin off
  auto_https off
  servers {
    protocols h1 h2c
  }
}
http://127.0.0.1:${H1_PORT[caddy]} {
  $caddy_site
}
http://127.0.0.1:${H2_PORT[caddy]} {
  $caddy_site
}
EOF
  # Portico's routes in YARP's shape, open to anonymous callers (routes are secure by default); health
  # checks, passive health, hardening headers, metrics, request ids, the access log and the default
  # resilience policy come from Portico's defaults (src/Gateway.Host/appsettings.json). The feature routes
  # differ from /hello in one thing each: /auth/hello needs a token, /nores/hello has no resilience policy,
  # /cached/hello has a standard-mode cache policy (no Ttl: the origin's Cache-Control, ETag and Vary decide, as
  # they do for nginx's proxy_cache without proxy_cache_valid), /fanout is a composition of three /hello calls, and /full/hello has every feature at once (token, a
  # rate limit that never refuses, CORS for a browser origin, the default resilience policy, and the cache, missed
  # on every request because wrk's script makes each query string new).
  # The gateway watches its file's folder; keep it apart from the folders peers write logs into.
  mkdir -p "$tmp/portico"
  # The host's settings as shipped, less the shop's job queues (they need a store, which the bench leaves out so
  # that no store client is loaded).
  mkdir -p "$tmp/portico-host"
  sed '/"Jobs": {/,/},/d' "$root/src/Gateway.Host/appsettings.json" >"$tmp/portico-host/appsettings.json"
  grep -q '"Jobs"' "$tmp/portico-host/appsettings.json" && { log "could not take Portico:Jobs out of the host settings"; exit 1; }
  cat >"$tmp/portico/bench-gateway.json" <<EOF
{
  "ReverseProxy": {
    "Routes": {
      "hello": { "ClusterId": "backend", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/hello", "Methods": [ "GET", "HEAD" ] } },
      "kb": { "ClusterId": "backend", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/kb", "Methods": [ "GET", "HEAD" ] } },
      "slow": { "ClusterId": "backend", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/slow", "Methods": [ "GET", "HEAD" ] } },
      "auth": { "ClusterId": "backend", "Match": { "Path": "/auth/hello", "Methods": [ "GET", "HEAD" ] } },
      "nores": { "ClusterId": "backend", "AuthorizationPolicy": "anonymous", "Metadata": { "Portico.Resilience": "none" }, "Match": { "Path": "/nores/hello", "Methods": [ "GET", "HEAD" ] } },
      "cached": { "ClusterId": "backend", "AuthorizationPolicy": "anonymous", "Metadata": { "Portico.Cache": "bench" }, "Match": { "Path": "/cached/hello", "Methods": [ "GET", "HEAD" ] } },
      "full": { "ClusterId": "backend", "CorsPolicy": "bench", "Metadata": { "Portico.Cache": "bench", "Portico.RateLimit": "bench" }, "Match": { "Path": "/full/hello", "Methods": [ "GET", "HEAD" ] } }
    },
    "Clusters": {
      "backend": {
        "LoadBalancingPolicy": "PowerOfTwoChoices",
        "Destinations": {
          "a": { "Address": "http://127.0.0.1:$BACKEND_A" },
          "b": { "Address": "http://127.0.0.1:$BACKEND_B" }
        }
      }
    }
  },
  "Portico": {
    "Caching": { "Policies": { "bench": { } } },
    "RateLimiting": { "Policies": { "bench": { "PermitLimit": 1000000000, "Window": "00:00:01", "Shared": false } } },
    "Cors": { "Policies": { "bench": { "Origins": [ "https://shop.example" ] } } },
    "Compositions": {
      "fanout": {
        "Method": "GET", "Path": "/fanout", "AuthorizationPolicy": "anonymous",
        "Steps": {
          "a": { "Cluster": "backend", "Path": "/hello" },
          "b": { "Cluster": "backend", "Path": "/hello" },
          "c": { "Cluster": "backend", "Path": "/hello" }
        }
      }
    }
  }
}
EOF
}

dotnet_env=(env DOTNET_NOLOGO=1 ASPNETCORE_ENVIRONMENT=Production)

start_portico() { # name (portico or portico2)
  # The access log goes to a batched file, as nginx's does; the logging category stays off (no collector here).
  local access_file=""
  [ "$ACCESS_LOG" = 1 ] && access_file="$tmp/$1-access.log"
  # shellcheck disable=SC2086 # PORTICO_ENV is a list of NAME=value words
  start "$1" "${PROXY_CPU[@]}" "${dotnet_env[@]}" $PORTICO_ENV dotnet "$root/src/Gateway.Host/bin/Release/net10.0/Portico.Gateway.Host.dll" \
    --contentRoot "$tmp/portico-host" \
    --Portico:ConfigFile="$tmp/portico/bench-gateway.json" --Logging:LogLevel:Portico.AccessLog=None --Portico:AccessLog:Path="$access_file" \
    --Portico:Jwt:JwksUrl=http://127.0.0.1:$BACKEND_A/bench/jwks --ConnectionStrings:store= \
    --Kestrel:Endpoints:http:Url=http://127.0.0.1:${H1_PORT[$1]} \
    --Kestrel:Endpoints:h2c:Url=http://127.0.0.1:${H2_PORT[$1]}
  wait_http "http://127.0.0.1:${H1_PORT[$1]}/hello"
}

start_all() {
  mkdir -p "$OUT/logs"
  start backend "${LOAD_CPU[@]}" "${dotnet_env[@]}" dotnet "$root/bench/Backend/bin/Release/net10.0/Portico.Bench.Backend.dll" \
    --Kestrel:Endpoints:a:Url=http://127.0.0.1:$BACKEND_A --Kestrel:Endpoints:b:Url=http://127.0.0.1:$BACKEND_B \
    --Kestrel:Endpoints:h2:Url=http://127.0.0.1:$BACKEND_H2 --Kestrel:Endpoints:h2:Protocols=Http2
  wait_http "http://127.0.0.1:$BACKEND_A/hello"

  for peer in $PEERS; do
    case $peer in
      portico)
        start_portico portico ;;
      yarp)
        start yarp "${PROXY_CPU[@]}" "${dotnet_env[@]}" dotnet "$root/bench/YarpBaseline/bin/Release/net10.0/Portico.Bench.YarpBaseline.dll" \
          --Bench:Backends=http://127.0.0.1:$BACKEND_A,http://127.0.0.1:$BACKEND_B \
          --Kestrel:Endpoints:http:Url=http://127.0.0.1:${H1_PORT[yarp]} \
          --Kestrel:Endpoints:h2c:Url=http://127.0.0.1:${H2_PORT[yarp]} --Kestrel:Endpoints:h2c:Protocols=Http2
        wait_http "http://127.0.0.1:${H1_PORT[yarp]}/hello" ;;
      nginx)
        start nginx "${PROXY_CPU[@]}" nginx -c "$tmp/nginx.conf" -p "$tmp"
        wait_http "http://127.0.0.1:${H1_PORT[nginx]}/hello" ;;
      haproxy)
        start haproxy "${PROXY_CPU[@]}" haproxy -db -f "$tmp/haproxy.cfg"
        wait_http "http://127.0.0.1:${H1_PORT[haproxy]}/hello" ;;
      caddy)
        start caddy "${PROXY_CPU[@]}" env HOME="$tmp" XDG_DATA_HOME="$tmp/caddy-data" XDG_CONFIG_HOME="$tmp/caddy-config" \
          caddy run --adapter caddyfile --config "$tmp/Caddyfile"
        wait_http "http://127.0.0.1:${H1_PORT[caddy]}/hello" ;;
      direct) ;;
      *) log "unknown peer $peer"; exit 2 ;;
    esac
  done
}

# ---------------------------------------------------------------------------------------------- scenarios
# Each run appends one line to $results: round scenario peer rps p50_ms p99_ms rss_mb errors cpu_us_per_request
results=$OUT/raw.tsv

to_ms() { # wrk latency such as 812.00us, 1.23ms, 2.00s
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else print "nan" }'
}

# CPU time (user + system, in clock ticks) of a process and its children still running.
cpu_ticks() {
  local total=0 p t
  for p in $1 $(pgrep -P "$1" 2>/dev/null || true); do
    t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + ${t:-0}))
  done
  echo $total
}

# CPU microseconds the peer spent per request: the proxy's cost, which machine noise moves far less than rps.
cpu_us_per_request() { # ticks_before ticks_after requests
  awk -v t=$(($2 - $1)) -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "nan"}'
}

# Samples the peer's RSS every half second while a load run lasts; prints the peak.
sample_rss() { # pid, seconds
  local peak=0 now end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do
    now=$(rss_mb "$1"); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.5
  done
  echo "$peak"
}

run_wrk() { # round scenario peer path connections [wrk options...]
  local round=$1 scenario=$2 peer=$3 path=$4 conns=$5
  shift 5
  local extra=("$@")
  local url="http://127.0.0.1:${H1_PORT[$peer]}$path" pid=${PID[$peer]:-${PID[backend]}}
  local threads=$WRK_THREADS
  "${LOAD_CPU[@]}" wrk -t"$threads" -c"$conns" -d"${WARMUP}s" --timeout 10s "${extra[@]}" "$url" >/dev/null 2>&1 || true
  sample_rss "$pid" "$DURATION" >"$tmp/rss" &
  local sampler=$! ticks
  ticks=$(cpu_ticks "$pid")
  "${LOAD_CPU[@]}" wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 10s --latency "${extra[@]}" "$url" >"$tmp/wrk.out" 2>&1 || true
  local cpu
  cpu=$(cpu_us_per_request "$ticks" "$(cpu_ticks "$pid")" "$(awk '/requests in/ {print $1}' "$tmp/wrk.out")")
  wait "$sampler" || true
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$tmp/wrk.out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$tmp/wrk.out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")")
  errors=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$tmp/wrk.out")
  cp "$tmp/wrk.out" "$OUT/logs/wrk-$scenario-$peer-$round.txt"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$scenario" "$peer" "${rps:-0}" "$p50" "$p99" "$(cat "$tmp/rss")" "$errors" "$cpu" >>"$results"
  log "round $round $scenario $peer: ${rps:-0} rps, p50 ${p50} ms, p99 ${p99} ms, rss $(cat "$tmp/rss") MB, cpu $cpu us/req, errors $errors"
}

run_h2load() { # round scenario peer path clients streams
  local round=$1 scenario=$2 peer=$3 path=$4 clients=$5 streams=$6
  local url="http://127.0.0.1:${H2_PORT[$peer]}$path" pid=${PID[$peer]:-${PID[backend]}}
  "${LOAD_CPU[@]}" h2load -c"$clients" -m"$streams" -D"$WARMUP" "$url" >/dev/null 2>&1 || true
  sample_rss "$pid" "$DURATION" >"$tmp/rss" &
  local sampler=$! ticks
  rm -f "$tmp/h2.log"
  ticks=$(cpu_ticks "$pid")
  "${LOAD_CPU[@]}" h2load -c"$clients" -m"$streams" -D"$DURATION" --log-file="$tmp/h2.log" "$url" >"$tmp/h2.out" 2>&1 || true
  local cpu
  cpu=$(cpu_us_per_request "$ticks" "$(cpu_ticks "$pid")" "$(awk '/^requests:/ {print $8}' "$tmp/h2.out")")
  wait "$sampler" || true
  local rps p50 p99 errors
  rps=$(awk '/^finished in/ {gsub(/,/, ""); printf "%.0f", $4}' "$tmp/h2.out")
  read -r p50 p99 < <(cut -f3 "$tmp/h2.log" 2>/dev/null | sort -n | awk '{a[NR] = $1} END {
    if (NR == 0) { print "nan nan"; exit }
    printf "%.3f %.3f\n", a[int(NR * 0.50) + (NR * 0.50 > int(NR * 0.50))] / 1000, a[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))] / 1000 }')
  errors=$(awk '/^requests:/ {gsub(/,/, ""); print $10 + $12 + $14}' "$tmp/h2.out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$scenario" "$peer" "${rps:-0}" "$p50" "$p99" "$(cat "$tmp/rss")" "${errors:-0}" "$cpu" >>"$results"
  log "round $round $scenario $peer: ${rps:-0} rps, p50 ${p50} ms, p99 ${p99} ms, rss $(cat "$tmp/rss") MB, cpu $cpu us/req, errors ${errors:-0}"
}

# Feature scenarios run only on the peers that have the feature; the others skip them.
supports() { # scenario peer
  case $1 in
    auth | nores | full | fanout | fanout1) [ "$2" = portico ] ;;
    cache) [ "$2" = portico ] || [ "$2" = nginx ] ;;
    *) true ;;
  esac
}

run_scenario() { # round scenario peer
  supports "$2" "$3" || return 0
  case $2 in
    hello) run_wrk "$1" "$2" "$3" /hello 64 ;;
    auth) run_wrk "$1" "$2" "$3" /auth/hello 64 -H "Authorization: Bearer $TOKEN" ;;
    nores) run_wrk "$1" "$2" "$3" /nores/hello 64 ;;
    cache) run_wrk "$1" "$2" "$3" /cached/hello 64 ;;
    full) run_wrk "$1" "$2" "$3" /full/hello 64 -H "Authorization: Bearer $TOKEN" -H "Origin: https://shop.example" -s "$tmp/unique.lua" ;;
    fanout) run_wrk "$1" "$2" "$3" /fanout 64 ;;
    hello1) run_wrk "$1" "$2" "$3" /hello 1 ;;
    fanout1) run_wrk "$1" "$2" "$3" /fanout 1 ;;
    kb) run_wrk "$1" "$2" "$3" /kb 64 ;;
    slow256) run_wrk "$1" "$2" "$3" "/slow?ms=50" 256 ;;
    slow2000) run_wrk "$1" "$2" "$3" "/slow?ms=50" 2000 ;;
    slowmax) run_wrk "$1" "$2" "$3" "/slow?ms=50" "$MAX_CONNS"
      # Until the backend has closed this proxy's idle connections (its keep-alive timeout is 5 s).
      sleep 7 ;;
    h2) run_h2load "$1" "$2" "$3" /hello 16 8 ;;
    *) log "unknown scenario $2"; exit 2 ;;
  esac
}

# ----------------------------------------------------------------------------------------- paired checks
# Sequential runs of two scenarios differ by the machine's drift between them (±15 % on the shared VM this was
# written on) as much as by the feature itself. A paired check loads both contenders at once on CPU 0, each
# in its own cpu cgroup of equal weight (so a process's thread count does not buy it a bigger share): whatever
# the machine does in those seconds, it does to both. Within each round the two Portico instances swap routes,
# so a difference between the instances cancels out.
paired=$OUT/paired.tsv

cg_setup() {
  [ "$PIN" = 1 ] || return 1
  if [ -f /sys/fs/cgroup/cpu/cpu.shares ]; then
    CG_ROOT=/sys/fs/cgroup/cpu/portico-bench
  elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    CG_ROOT=/sys/fs/cgroup/portico-bench
  else
    return 1
  fi
  mkdir -p "$CG_ROOT" 2>/dev/null || { CG_ROOT=""; return 1; }
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    echo +cpu >"$CG_ROOT/cgroup.subtree_control" 2>/dev/null || { rmdir "$CG_ROOT"; CG_ROOT=""; return 1; }
  fi
}

cg_join() { # peer: moves the peer's processes into a cgroup of their own, equal weight to the others
  local dir=$CG_ROOT/$1 p
  mkdir -p "$dir"
  if [ -f "$dir/cpu.shares" ]; then echo 1024 >"$dir/cpu.shares"; else echo 100 >"$dir/cpu.weight"; fi
  for p in ${PID[$1]} $(pgrep -P "${PID[$1]}" 2>/dev/null || true); do
    echo "$p" >"$dir/cgroup.procs"
  done
}

run_pair() { # round check labelA peerA pathA labelB peerB pathB: both at once, a line per side; the side
  local round=$1 check=$2 la=$3 pa=$4 a=$5 lb=$6 pb=$7 b=$8 # labelled "token" sends the bench token
  local urla="http://127.0.0.1:${H1_PORT[$pa]}$a" urlb="http://127.0.0.1:${H1_PORT[$pb]}$b" oa=() ob=()
  [ "$la" = token ] && oa=(-H "Authorization: Bearer $TOKEN")
  [ "$lb" = token ] && ob=(-H "Authorization: Bearer $TOKEN")
  local wa wb # (a bare `wait` would wait for the peers too: they are this shell's jobs)
  "${LOAD_CPU[@]}" wrk -t1 -c64 -d"${WARMUP}s" "${oa[@]}" "$urla" >/dev/null 2>&1 & wa=$!
  "${LOAD_CPU[@]}" wrk -t1 -c64 -d"${WARMUP}s" "${ob[@]}" "$urlb" >/dev/null 2>&1 & wb=$!
  wait "$wa" "$wb" || true
  local ta tb
  ta=$(cpu_ticks "${PID[$pa]}") tb=$(cpu_ticks "${PID[$pb]}")
  "${LOAD_CPU[@]}" wrk -t1 -c64 -d"${DURATION}s" --timeout 10s "${oa[@]}" "$urla" >"$tmp/pair-a.out" 2>&1 & wa=$!
  "${LOAD_CPU[@]}" wrk -t1 -c64 -d"${DURATION}s" --timeout 10s "${ob[@]}" "$urlb" >"$tmp/pair-b.out" 2>&1 & wb=$!
  wait "$wa" "$wb" || true
  local side label peer ticks out rps cpu
  for side in a b; do
    if [ $side = a ]; then label=$la peer=$pa ticks=$ta; else label=$lb peer=$pb ticks=$tb; fi
    out=$tmp/pair-$side.out
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
    cpu=$(cpu_us_per_request "$ticks" "$(cpu_ticks "${PID[$peer]}")" "$(awk '/requests in/ {print $1}' "$out")")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$check" "$label" "$peer" "${rps:-0}" "$cpu" >>"$paired"
  done
  log "round $round paired $check: $pa $a $(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$tmp/pair-a.out") rps | $pb $b $(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$tmp/pair-b.out") rps"
}

run_paired_checks() {
  local has=" $SCENARIOS " round
  : >"$paired"
  for peer in portico portico2 nginx; do
    [ -n "${PID[$peer]:-}" ] && cg_join "$peer"
  done
  for round in $(seq 1 "$ROUNDS"); do
    if [[ $has == *" nores "* ]]; then
      run_pair "$round" resilience default portico /hello none portico2 /nores/hello
      run_pair "$round" resilience none portico /nores/hello default portico2 /hello
    fi
    if [[ $has == *" auth "* ]]; then
      run_pair "$round" auth token portico /auth/hello anonymous portico2 /hello
      run_pair "$round" auth anonymous portico /hello token portico2 /auth/hello
    fi
    if [[ $has == *" cache "* && -n "${PID[nginx]:-}" ]]; then
      run_pair "$round" cache portico portico /cached/hello nginx nginx /cached/hello
    fi
  done
}

# Median over rounds of (rps of contender a ÷ rps of contender b) in a check, each round's value the geometric
# mean of its runs (the two orientations of a swapped pair).
paired_ratio() { # check label_a label_b [column: 5 rps (default), 6 CPU µs/req inverted]
  awk -F'\t' -v c="$1" -v a="$2" -v b="$3" -v col="${4:-5}" '
    $2 == c { v = (col == 6) ? 1 / $6 : $5
              if ($3 == a) { ra[$1] = ra[$1] "," v } else if ($3 == b) { rb[$1] = rb[$1] "," v } }
    END {
      n = 0
      for (r in ra) {
        na = split(substr(ra[r], 2), xa, ","); nb = split(substr(rb[r], 2), xb, ",")
        if (na != nb || na == 0) continue
        lg = 0; for (i = 1; i <= na; i++) lg += log(xa[i] / xb[i])
        vals[++n] = exp(lg / na)
      }
      if (!n) exit
      for (i = 2; i <= n; i++) for (j = i; j > 1 && vals[j - 1] > vals[j]; j--) { t = vals[j]; vals[j] = vals[j - 1]; vals[j - 1] = t }
      printf "%.2f", n % 2 ? vals[(n + 1) / 2] : (vals[n / 2] + vals[n / 2 + 1]) / 2
    }' "$paired"
}

# ---------------------------------------------------------------------------------------------- report
describe() {
  case $1 in
    hello) echo "/hello (100 B), 64 conns" ;;
    kb) echo "/kb (4 KB), 64 conns" ;;
    slow256) echo "/slow?ms=50, 256 conns" ;;
    slow2000) echo "/slow?ms=50, 2000 conns" ;;
    slowmax) echo "/slow?ms=50, $MAX_CONNS conns" ;;
    h2) echo "h2c /hello, 16 conns x 8 streams" ;;
    auth) echo "/auth/hello with a bearer token, 64 conns" ;;
    nores) echo "/nores/hello, resilience policy none, 64 conns" ;;
    cache) echo "/cached/hello, cache hit, 64 conns" ;;
    full) echo "/full/hello, every feature (token, rate limit, CORS, resilience, cache miss), 64 conns" ;;
    fanout) echo "/fanout (3 x /hello composed), 64 conns" ;;
    hello1) echo "/hello, 1 conn" ;;
    fanout1) echo "/fanout, 1 conn" ;;
  esac
}

median_of() { # scenario peer column (4 rps, 5 p50, 6 p99)
  awk -F'\t' -v s="$1" -v p="$2" -v c="$3" '$2 == s && $3 == p {print $c}' "$results" | sort -g |
    awk '{a[NR] = $1} END {if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'
}

# The issues' feature targets, each a ratio (or difference) of two medians from this run.
feature_report() {
  local has=" $SCENARIOS "
  line() { # label value target
    [ -z "$2" ] || printf '| %s | %s | %s |\n' "$1" "$2" "$3"
  }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "" && b > 0) printf "%.2f", a / b}'; }
  echo "| feature check (same run, medians) | value | target |"
  echo "|---|---:|---:|"
  [[ $has == *" auth "* ]] && line "authenticated / anonymous rps (Portico)" "$(ratio "$(median_of auth portico 4)" "$(median_of hello portico 4)")" "≥ 0.90"
  [[ $has == *" nores "* ]] && line "default resilience policy / none rps (Portico)" "$(ratio "$(median_of hello portico 4)" "$(median_of nores portico 4)")" "≥ 0.95"
  [[ $has == *" cache "* ]] && line "cache hit rps, Portico / nginx proxy_cache" "$(ratio "$(median_of cache portico 4)" "$(median_of cache nginx 4)")" "≥ 1.0"
  [[ $has == *" full "* ]] && line "every feature / plain route CPU µs per request (Portico)" "$(ratio "$(median_of full portico 9)" "$(median_of hello portico 9)")" "≤ 1.3"
  local scenario
  for scenario in hello kb h2; do
    [[ $has == *" $scenario "* ]] || continue
    line "$(describe "$scenario"): Portico / bare YARP rps" "$(ratio "$(median_of "$scenario" portico 4)" "$(median_of "$scenario" yarp 4)")" "≥ 1.0"
    line "$(describe "$scenario"): Portico / bare YARP CPU µs per request" "$(ratio "$(median_of "$scenario" portico 9)" "$(median_of "$scenario" yarp 9)")" "≤ 1.05"
  done
  for scenario in hello kb slow256 slow2000 slowmax h2 hello1; do
    [[ $has == *" $scenario "* ]] || continue
    line "$(describe "$scenario"): Portico / Caddy rps" "$(ratio "$(median_of "$scenario" portico 4)" "$(median_of "$scenario" caddy 4)")" "≥ 1.0"
  done
  [[ $has == *" slow2000 "* ]] && line "$(describe slow2000): Portico / nginx rps" "$(ratio "$(median_of slow2000 portico 4)" "$(median_of slow2000 nginx 4)")" "≥ 1.0"
  [[ $has == *" slow2000 "* ]] && line "$(describe slow2000): Portico / nginx p99" "$(ratio "$(median_of slow2000 portico 6)" "$(median_of slow2000 nginx 6)")" "≤ 1.0"
  [[ $has == *" fanout "* ]] && line "3-step fan-out rps / plain proxy rps (Portico)" "$(ratio "$(median_of fanout portico 4)" "$(median_of hello portico 4)")" "reported"
  if [ -s "$paired" ]; then
    pline() { # label check contender_a contender_b target
      local rps cpu
      rps=$(paired_ratio "$2" "$3" "$4") cpu=$(paired_ratio "$2" "$3" "$4" 6)
      # Under set -e a check that did not run must not end the report.
      [ -z "$rps" ] || printf '| %s, paired (CPU µs/req ratio %s) | %s | %s |\n' "$1" "$cpu" "$rps" "$5"
    }
    pline "authenticated / anonymous rps (Portico)" auth token anonymous "≥ 0.90"
    pline "default resilience policy / none rps (Portico)" resilience default none "≥ 0.95"
    pline "cache hit rps, Portico / nginx proxy_cache" cache portico nginx "≥ 1.0"
  fi
  if [[ $has == *" fanout1 "* && $has == *" hello1 "* ]]; then
    line "fan-out p50 − proxied /hello p50, 1 conn (ms)" "$(awk -v a="$(median_of fanout1 portico 5)" -v b="$(median_of hello1 portico 5)" 'BEGIN {if (a != "" && b != "") printf "%.3f", a - b}')" "≤ 1 ms"
    line "fan-out p50 − direct /hello p50, 1 conn (ms)" "$(awk -v a="$(median_of fanout1 portico 5)" -v b="$(median_of hello1 direct 5)" 'BEGIN {if (a != "" && b != "") printf "%.3f", a - b}')" "(all gateway cost)"
  fi
}

report() {
  echo "| scenario | peer | rps | × nginx | p50 ms | p99 ms | peak RSS MB | CPU µs/req | errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  for scenario in $SCENARIOS; do
    local nginx_rps
    nginx_rps=$(awk -F'\t' -v s="$scenario" '$2 == s && $3 == "nginx" {print $4}' "$results" | sort -n |
      awk '{a[NR] = $1} END {if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2); else print 0}')
    for peer in $PEERS; do
      awk -F'\t' -v s="$scenario" -v p="$peer" -v d="$(describe "$scenario")" -v base="$nginx_rps" '
        function median(arr, n,   i, j, t) {
          for (i = 2; i <= n; i++) for (j = i; j > 1 && arr[j - 1] > arr[j]; j--) { t = arr[j]; arr[j] = arr[j - 1]; arr[j - 1] = t }
          return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
        }
        $2 == s && $3 == p { n++; rps[n] = $4; p50[n] = $5; p99[n] = $6; rss[n] = $7; err += $8; cpu[n] = $9 }
        END {
          if (!n) exit
          r = median(rps, n)
          ratio = base > 0 ? sprintf("%.2f", r / base) : "n/a"
          printf "| %s | %s | %.0f | %s | %.2f | %.2f | %.0f | %.0f | %d |\n", d, p, r, ratio, median(p50, n), median(p99, n), median(rss, n), median(cpu, n), err
        }' "$results"
    done
  done
}

# ------------------------------------------------------------------------------------------------- main
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# The many-connections scenario: 10,000 slow requests, or as many as the descriptor limit lets a proxy hold (each
# proxied request holds a client and an upstream connection; a container's hard limit may be below 2 x 10,000).
if [ -z "${MAX_CONNS:-}" ]; then
  MAX_CONNS=$(( ($(ulimit -n) - 2000) / 2 ))
  [ "$MAX_CONNS" -gt 10000 ] && MAX_CONNS=10000
fi
install_tools
log "building Release"
for project in bench/Backend bench/YarpBaseline src/Gateway.Host; do
  dotnet build "$project" -c Release -nologo -v q >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
done
write_configs
: >"$results"
start_all
TOKEN=$(curl -fsS "http://127.0.0.1:$BACKEND_A/bench/token")
# Every Portico route answers 200 before anything is measured: a refused token or a bad route would otherwise be
# measured as fast errors.
if [[ " $PEERS " == *" portico "* ]]; then
  for path in /hello /kb /auth/hello /nores/hello /cached/hello "/full/hello?n=0" /fanout; do
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "Origin: https://shop.example" \
      "http://127.0.0.1:${H1_PORT[portico]}$path")
    [ "$status" = 200 ] || { log "Portico answers $path with $status, not 200: see $OUT/logs/portico.log"; exit 1; }
  done
fi
warm=$PEERS
if [ "$PAIRED" = 1 ] && [[ " $PEERS " == *" portico "* ]]; then
  if cg_setup; then
    start_portico portico2
    warm="$warm portico2"
  else
    log "paired checks skipped: they need PIN=1, root and a cgroup cpu controller"
    PAIRED=0
  fi
fi
log "peers up: $warm; pin=$PIN sched=$SCHED access_log=$ACCESS_LOG portico_env=[$PORTICO_ENV] rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s"
# One warm-up cycle: every path the scenarios use, a few seconds each.
warm_cycle() { # peer seconds_per_path
  local peer=$1 d=$2 path
  "${LOAD_CPU[@]}" wrk -t"$WRK_THREADS" -c64 -d"${d}s" "http://127.0.0.1:${H1_PORT[$peer]}/hello" >/dev/null 2>&1 || true
  "${LOAD_CPU[@]}" wrk -t"$WRK_THREADS" -c64 -d"${d}s" "http://127.0.0.1:${H1_PORT[$peer]}/kb" >/dev/null 2>&1 || true
  "${LOAD_CPU[@]}" h2load -c16 -m8 -D"$d" "http://127.0.0.1:${H2_PORT[$peer]}/hello" >/dev/null 2>&1 || true
  if [ "$peer" != yarp ]; then
    for path in /auth/hello /nores/hello /cached/hello /fanout; do
      "${LOAD_CPU[@]}" wrk -t"$WRK_THREADS" -c64 -d"${d}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:${H1_PORT[$peer]}$path" >/dev/null 2>&1 || true
    done
  fi
}

jit_methods() { # peer: methods the JIT has compiled so far (Portico's /metrics), empty if unknown
  { curl -fsS --max-time 2 "http://127.0.0.1:${H1_PORT[$1]}/metrics" 2>/dev/null || true; } | awk '/^dotnet_jit_compiled_methods_total/ {print $NF}'
}

# Tiered compilation on one busy core takes minutes to promote every hot path, and a measurement taken while
# it still runs is slowed by it (docs/benchmarks.md). So: cycle through every path for JIT_WARMUP seconds,
# then, where the peer reports its JIT count, go on until a cycle adds fewer than 100 methods (at most 3x).
for peer in $warm; do
  case $peer in
    portico | portico2 | yarp)
      log "JIT warm-up on $peer"
      until_=$((SECONDS + JIT_WARMUP)) cap=$((SECONDS + 3 * JIT_WARMUP)) before=$(jit_methods "$peer")
      while :; do
        warm_cycle "$peer" 3
        now=$(jit_methods "$peer")
        [ $SECONDS -ge $cap ] && break
        if [ $SECONDS -ge $until_ ]; then
          [ -z "$now" ] && break
          [ $((now - before)) -lt 100 ] && break
        fi
        before=$now
      done
      log "JIT warm-up on $peer done after $((SECONDS - until_ + JIT_WARMUP)) s${now:+, $now methods compiled}" ;;
  esac
done
started=$SECONDS
for round in $(seq 1 "$ROUNDS"); do
  # Each round starts one scenario later, so no scenario always follows the same one: what a scenario leaves
  # behind (pools grown by 2,000 connections, a hot cache, a quiet gap) would otherwise bias its successor.
  read -r -a order <<<"$SCENARIOS"
  shift_by=$(( (round - 1) % ${#order[@]} ))
  for scenario in "${order[@]:shift_by}" "${order[@]:0:shift_by}"; do
    for peer in $PEERS; do
      run_scenario "$round" "$scenario" "$peer"
    done
  done
done
[ "$PAIRED" = 1 ] && run_paired_checks
log "load runs took $((SECONDS - started)) s"

{
  echo "Portico bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), pin=$PIN sched=$SCHED access_log=$ACCESS_LOG portico_env=[$PORTICO_ENV], medians of $ROUNDS rounds x ${DURATION}s"
  echo
  report
  echo
  feature_report
} | tee "$OUT/table.md"
