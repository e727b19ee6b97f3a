/* Enums described by an X-macro table, one row per value: X(id, name), ids
 * from 0 in order, the name being the value's stats key and metric label. The
 * table gives the enum and the names, so a counter array indexed by the value
 * and its labels cannot disagree:
 *   #define FOO_TABLE(X) X(FOO_OK, "ok") X(FOO_ERR_BAR, "bar")
 *   enum foo { FOO_TABLE(MDM_ENUM_ID) FOO_COUNT };
 *   static const char *const names[FOO_COUNT] = { FOO_TABLE(MDM_ENUM_NAME) };
 *   mdm_enum_name(names, FOO_COUNT, v)   -> "bar", or "unknown" */
#ifndef MDM_ENUM_H
#define MDM_ENUM_H

#define MDM_ENUM_ID(id, name) id,
#define MDM_ENUM_NAME(id, name) [id] = name,

/* names[v], or "unknown" for a value outside the table. */
static inline const char *mdm_enum_name(const char *const *names, unsigned count, int v)
{
	return (unsigned)v < count ? names[v] : "unknown";
}

#endif
