/* `mdmesh-loadgen`: deterministic feed generation. Dispatches to one
 * subcommand per file (loadgen_<name>.c); a new subcommand is one more row in
 * `commands`. */
#include "loadgen_cmds.h"
#include "mdm_cmd.h"

static const struct mdm_cmd commands[] = {
	{ "synth", loadgen_synth, "deterministic ITCH 5.0 / MoldUDP64 session -> pcap (+ ground truth)" },
	{ "send", loadgen_send, "live MoldUDP64 multicast at a constant event rate (wrk2-style schedule)" },
	{ "fix", loadgen_fix, "a FIX drop-copy counterparty sending ExecutionReports (gaps, PossDup, disconnects)" },
};

static const struct mdm_cmd_table table = {
	"mdmesh-loadgen", "mdmesh-loadgen makes NASDAQ TotalView-ITCH 5.0 feeds for tests and benchmarks.", commands,
	sizeof(commands) / sizeof(commands[0]),
};

int main(int argc, char **argv)
{
	return mdm_cmd_main(&table, argc, argv);
}
