/* One dispatcher for the multi-command binaries, so each main is a table. */
#include "mdm_cmd.h"

#include <string.h>

void mdm_cmd_usage(const struct mdm_cmd_table *t, FILE *f)
{
	fprintf(f, "usage: %s <command> [options]\n\n%s\n\ncommands:\n", t->prog, t->about);
	for (size_t i = 0; i < t->n; i++)
		fprintf(f, "  %-10s %s\n", t->cmds[i].name, t->cmds[i].summary);
	fprintf(f, "\n'%s <command> --help' describes a command's options.\n"
		   "  --help       this text\n  --version    print the version\n",
		t->prog);
}

int mdm_cmd_main(const struct mdm_cmd_table *t, int argc, char **argv)
{
	if (argc < 2) {
		mdm_cmd_usage(t, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		mdm_cmd_usage(t, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("%s %s\n", t->prog, MDM_VERSION);
		return 0;
	}
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(argv[1], t->cmds[i].name) == 0)
			return t->cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown %s '%s' (try '%s --help')\n", t->prog, argv[1][0] == '-' ? "option" : "command",
		argv[1], t->prog);
	return 2;
}
