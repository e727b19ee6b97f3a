/* What both store backends share: the backend choice for a URL (so the
 * processor, tools and tests agree on which URLs mean PostgreSQL) and the
 * rule-table name check (names are pasted into DDL, so they are vetted once,
 * here, the same way for both). */
#include "store.h"

#include <string.h>
#include <strings.h>

const struct store_ops *store_ops_for(const char *url)
{
	if (url && (strncasecmp(url, "postgresql://", 13) == 0 || strncasecmp(url, "postgres://", 11) == 0))
		return &store_pg_ops;
	return &store_sqlite_ops;
}

bool store_table_name_ok(const char *name)
{
	static const char *const builtin[] = { "trades", "bars_1m", "instruments", "alerts", "audit" };
	size_t i, n;

	if (!name)
		return false;
	n = strlen(name);
	if (n == 0 || n > STORE_TABLE_NAME_MAX || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return false;
	for (i = 1; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	if (strncmp(name, "sqlite_", 7) == 0 || strncmp(name, "pg_", 3) == 0 || strncmp(name, "mdmesh_", 7) == 0)
		return false;
	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(name, builtin[i]) == 0)
			return false;
	return true;
}
