#!/usr/bin/env bash
# Hostile configuration: every kind of mistake in a config file, an
# environment override or a flag, given to both daemons, and in a rules file
# given to the processor, is refused before anything starts, with a non-zero
# exit and one line naming FILE:LINE: KEY (or the env variable / flag). The
# messages themselves are unit-tested (test_mdm_cfg, test_rules); this test
# checks what an operator sees from the binaries: exit status, the location,
# a single line, no secret echoed, no half-started daemon.
set -euo pipefail
. "$MDM_SRC_DIR/tests/integration/lib.sh"
cd "$MDM_T_TMP"
COL="$MDM_BIN/mdmesh-collector"
PROC="$MDM_BIN/mdmesh-processor"
# if a bad config were accepted, these would fail differently (exit 1, NATS refused)
COL_ARGS=(--pcap /dev/null --nats nats://127.0.0.1:1 --http "")
PROC_ARGS=(--nats nats://127.0.0.1:1 --store "$MDM_T_TMP/p.db" --http "" --rules "")

# refused NAME WANT_RC PATTERN CMD...: CMD exits WANT_RC, prints PATTERN
# (fixed string) on stderr, as its only line when ONE_LINE=1
refused() {
	local name=$1 want=$2 pat=$3 rc=0
	shift 3
	"$@" > out.txt 2> err.txt || rc=$?
	[ "$rc" = "$want" ] || fail "$name: exit $rc, want $want: $(head -3 err.txt)"
	grep -qF -- "$pat" err.txt || fail "$name: stderr lacks '$pat': $(head -3 err.txt)"
	if [ "${ONE_LINE:-1}" = 1 ] && [ "$(wc -l < err.txt)" -ne 1 ]; then
		fail "$name: want one line, got $(wc -l < err.txt): $(head -3 err.txt)"
	fi
	if grep -q hunter2 err.txt out.txt; then fail "$name: a secret value was echoed"; fi
}

# One row per kind of mistake: file text | where it is reported (LINE: KEY).
# The same kinds for both daemons, with each one's own keys.
COLLECTOR_CASES=(
	$'feed: {dst: "233.54.12.111:26477", name: itch\n|:2:1: syntax error'
	$'ring:\n\tsize: 1024\n|:2:1: syntax error'
	$'publish:\n  max_pendng: 5\n|:2: publish.max_pendng: unknown key (did you mean publish.max_pending?)'
	$'pubilsh:\n  mode: event\n|:1: pubilsh: unknown key (did you mean publish?)'
	$'ring: 5\n|:1: ring: expected a mapping, found a scalar'
	$'feed:\n  dst: [a, b]\n|:2: feed.dst: expected a scalar, found a sequence'
	$'publish:\n  max_pending: lots\n|:2: publish.max_pending: \'lots\' is not an unsigned integer'
	$'ring:\n  size: -4096\n|:2: ring.size: \'-4096\' is not an unsigned integer'
	$'ring:\n  size: 512\n|:2: ring.size: 512 is below the minimum 1024'
	$'publish:\n  max_pending: 99999999\n|:2: publish.max_pending: 99999999 is above the maximum'
	$'ring:\n  full_policy: dorp\n|:2: ring.full_policy: \'dorp\' is not one of: block, drop'
	$'eal:\n  no_huge: maybe\n|:2: eal.no_huge: \'maybe\' is not a boolean'
	$'publish:\n  ack_timeout: 5 parsecs\n|:2: publish.ack_timeout: \'5 parsecs\' is not a duration'
	$'stream:\n  max_bytes: 12 furlongs\n|:2: stream.max_bytes: \'12 furlongs\' is not a size'
	$'nats:\n  url: nats://a\nnats:\n  url: nats://b\n|:3: nats: duplicate key (first at line 1)'
	$'feed:\n  name: &n itch\ninstance: *n\n|:3: instance: aliases (*n) are not supported'
	$'nats:\n  password: [hunter2]\n|:2: nats.password: expected a scalar, found a sequence'
)
PROCESSOR_CASES=(
	$'consumer: {durable: x\n|:2:1: syntax error'
	$'fetch:\n\tbatch: 10\n|:2:1: syntax error'
	$'consumer:\n  ack_wiat: 5s\n|:2: consumer.ack_wiat: unknown key (did you mean consumer.ack_wait?)'
	$'fecth:\n  batch: 10\n|:1: fecth: unknown key (did you mean fetch?)'
	$'fetch: 5\n|:1: fetch: expected a mapping, found a scalar'
	$'store:\n  url: {a: 1}\n|:2: store.url: expected a scalar, found a mapping'
	$'fetch:\n  batch: lots\n|:2: fetch.batch: \'lots\' is not an unsigned integer'
	$'fetch:\n  batch: -1\n|:2: fetch.batch: \'-1\' is not an unsigned integer'
	$'fetch:\n  batch: 0\n|:2: fetch.batch: 0 is below the minimum 1'
	$'consumer:\n  ack_wait: 2h\n|:2: consumer.ack_wait: 2h is above the maximum 1h'
	$'validate:\n  require_header: maybe\n|:2: validate.require_header: \'maybe\' is not a boolean'
	$'fetch:\n  timeout: soon\n|:2: fetch.timeout: \'soon\' is not a duration'
	$'fetch:\n  batch: 10\nfetch:\n  batch: 20\n|:3: fetch: duplicate key (first at line 1)'
	$'instance: &i p1\nconsumer:\n  durable: *i\n|:3: consumer.durable: aliases (*i) are not supported'
	$'store:\n  url: postgresql://u:hunter2@127.0.0.1:1/db\nnats:\n  token: [hunter2]\n|:4: nats.token: expected a scalar, found a sequence'
)

# run_cases NAME BIN ARGS_VAR CASES...: each case in its own file
run_cases() {
	local who=$1 bin=$2 argsvar="$3[@]" i=0 c text where
	shift 3
	for c in "$@"; do
		i=$((i + 1))
		text=${c%|*}
		where=${c##*|}
		printf '%s' "$text" > "$who$i.yaml"
		refused "$who case $i ($where)" 2 "$who$i.yaml$where" "$bin" -c "$who$i.yaml" "${!argsvar}"
	done
	pass "$who: $i kinds of mistake in a config file, each refused with exit 2 and FILE:LINE: KEY"
}
# shellcheck disable=SC2034 # used through ${!argsvar}
run_cases collector "$COL" COL_ARGS "${COLLECTOR_CASES[@]}"
run_cases processor "$PROC" PROC_ARGS "${PROCESSOR_CASES[@]}"

# The file itself: missing, a directory, unreadable bytes, an empty file is all defaults.
for d in collector processor; do
	bin=$COL args=("${COL_ARGS[@]}")
	[ $d = processor ] && bin=$PROC args=("${PROC_ARGS[@]}")
	refused "$d: missing file" 2 "no/such.yaml: No such file or directory" "$bin" -c no/such.yaml "${args[@]}"
	mkdir -p adir
	refused "$d: a directory" 2 "adir: is a directory" "$bin" -c adir "${args[@]}"
	printf '\x00\xff\xfe\x01garbage\n' > binary.yaml
	refused "$d: binary bytes" 2 "binary.yaml: syntax error at byte 0" "$bin" -c binary.yaml "${args[@]}"
	head -c 300000 /dev/urandom | tr -d '\n' > random.yaml
	ONE_LINE=1 refused "$d: random bytes" 2 "random.yaml" "$bin" -c random.yaml "${args[@]}"
	: > empty.yaml
	"$bin" -c empty.yaml "${args[@]}" --print-config > printed.yaml || fail "$d: an empty file is not the defaults"
	grep -q "^nats:" printed.yaml || fail "$d: --print-config of an empty file printed no nats section"
done
pass "both: missing file, directory, binary and random bytes refused (exit 2, file named); empty file = defaults"

# Environment and flags are located by their own names.
MDM_PUBLISH_MAX_PENDING=lots refused "collector env" 2 \
	"env MDM_PUBLISH_MAX_PENDING: publish.max_pending: 'lots' is not an unsigned integer" "$COL" "${COL_ARGS[@]}"
MDM_FETCH_BATCH=0 refused "processor env" 2 "env MDM_FETCH_BATCH: fetch.batch: 0 is below the minimum 1" \
	"$PROC" "${PROC_ARGS[@]}"
refused "collector --set" 2 "--set: ring.full_policy: 'maybe' is not one of: block, drop" \
	"$COL" "${COL_ARGS[@]}" --set ring.full_policy=maybe
refused "processor --set" 2 "--set: fetch.batch: '-1' is not an unsigned integer" \
	"$PROC" "${PROC_ARGS[@]}" --set fetch.batch=-1
refused "collector --set unknown key" 2 "--set: ring.sise: unknown key (did you mean ring.size?)" \
	"$COL" "${COL_ARGS[@]}" --set ring.sise=1024
refused "processor --set no value" 2 "--set" "$PROC" "${PROC_ARGS[@]}" --set fetch.batch
pass "both: bad environment overrides and --set flags refused, named by variable / flag and key"

# Checks across keys run after loading: refused before anything starts, file and key named.
printf 'ring:\n  size: 3000\n' > c_pow2.yaml
refused "collector ring.size not a power of two" 2 "c_pow2.yaml: ring.size: 3000 is not a power of two" \
	"$COL" -c c_pow2.yaml "${COL_ARGS[@]}"
printf 'feed:\n  book_capacity: 1000\n' > c_book.yaml
refused "collector book_capacity" 2 "c_book.yaml: feed.book_capacity: 1000 is not a power of two" \
	"$COL" -c c_book.yaml "${COL_ARGS[@]}"
printf 'feed:\n  dst: 233.54.12.111\n' > c_dst.yaml
refused "collector feed.dst without a port" 2 "c_dst.yaml: feed.dst: '233.54.12.111' is not IPV4:PORT (or any)" \
	"$COL" -c c_dst.yaml "${COL_ARGS[@]}"
printf 'feed:\n  rerequest: [233.54.12.111:26478, "localhost:26478"]\n' > c_rereq.yaml
refused "collector feed.rerequest not an address" 2 "c_rereq.yaml: feed.rerequest: 'localhost:26478' is not IPV4:PORT" \
	"$COL" -c c_rereq.yaml "${COL_ARGS[@]}"
printf 'consumer:\n  max_ack_pending: 10\nfetch:\n  batch: 100\n' > p_map.yaml
refused "processor max_ack_pending < fetch.batch" 2 "p_map.yaml: consumer.max_ack_pending (10) must be >= fetch.batch (100)" \
	"$PROC" -c p_map.yaml "${PROC_ARGS[@]}"
printf 'validate:\n  min_price: 100\n  max_price: 10\n' > p_price.yaml
refused "processor max_price < min_price" 2 "p_price.yaml: validate.max_price 10 is below validate.min_price 100" \
	"$PROC" -c p_price.yaml "${PROC_ARGS[@]}"
pass "both: cross-key mistakes refused before start (exit 2, file and keys named)"

# Rules files: the processor refuses each kind of mistake at start with
# FILE:LINE: rules[i].KEY, before it connects anywhere (PROC_ARGS points at a
# port nothing listens on: a bad file must not wait for NATS).
RULES_CASES=(
	$'rules: [\n|:2:1: syntax error'
	$'rules: 5\n|:1: rules: expected a list of rules'
	$'rules:\n  - name: a\n    mtach: {}\n    targets: [{table: t}]\n|:3: rules[0].mtach: unknown key (did you mean match?)'
	$'rules:\n  - name: a\n    match: {}\n|:2: rules[0].targets: missing'
	$'rules:\n  - name: Bad-Name\n    match: {}\n    targets: [{table: t}]\n|:2: rules[0].name: bad rule name'
	$'rules:\n  - {name: a, match: {}, targets: [{table: t}]}\n  - {name: a, match: {}, targets: [{table: t}]}\n|:3: rules[1].name: duplicate rule name'
	$'rules:\n  - name: a\n    match:\n      type: [E]\n      price: [1]\n    targets: [{drop: true}]\n|:5: rules[0].match.price: no such field in type E'
	$'rules:\n  - name: a\n    match: {type: [Z]}\n    targets: [{table: t}]\n|:3: rules[0].match.type[0]: unknown event type'
	$'rules: [{name: a, match: {price: [{numeric: ["=>", 1]}]}, targets: [{table: t}]}]\n|:1: rules[0].match.price[0].numeric[0]: bad operator'
	$'rules:\n  - name: a\n    match: {subject: ["md.>.x"]}\n    targets: [{table: t}]\n|:3: rules[0].match.subject[0]: bad subject pattern'
	$'rules:\n  - name: a\n    match: {}\n    targets:\n      - {publish: "alert.{sym}"}\n|:5: rules[0].targets[0].publish: bad placeholder'
	$'rules:\n  - name: a\n    match: {}\n    targets: [{table: sqlite_master}]\n|:4: rules[0].targets[0].table: bad table name'
)
i=0
for c in "${RULES_CASES[@]}"; do
	i=$((i + 1))
	printf '%s' "${c%|*}" > "rules$i.yaml"
	refused "rules case $i" 2 "rules.file: rules$i.yaml${c##*|}" "$PROC" "${PROC_ARGS[@]}" --rules "rules$i.yaml"
done
pass "processor: $i kinds of mistake in a rules file, each refused before connecting (exit 2, FILE:LINE: rules[i].KEY)"
summary
