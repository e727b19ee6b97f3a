/* A small YAML document tree with line numbers, built on libyaml. It serves
 * the flat config schemas (mdm_cfg) and parsers whose input is not flat, such
 * as the processor's list of rule mappings: one YAML walk, two uses. */
#ifndef MDM_YAML_H
#define MDM_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "mdm_buf.h"

enum mdm_yaml_kind {
	MDM_YAML_SCALAR,
	MDM_YAML_SEQ,
	MDM_YAML_MAP,
};

/* One node. Read-only outside mdm_yaml.c; a tree is owned by its root and
 * released with mdm_yaml_free. Tags and anchors are not kept; aliases are
 * rejected at parse time, so a tree is a tree (no shared nodes). */
struct mdm_yaml_node {
	enum mdm_yaml_kind kind;
	unsigned line;                /* 1-based line where the node starts */
	unsigned column;              /* 1-based column where the node starts */
	bool plain;                   /* SCALAR: unquoted, so ~ / null / empty mean "no value" */
	char *text;                   /* SCALAR: NUL-terminated; may contain NULs (see len). NULL otherwise */
	size_t len;                   /* SCALAR: bytes in text, excluding the terminator */
	size_t n;                     /* SEQ: items; MAP: key/value pairs; 0 for SCALAR */
	struct mdm_yaml_node **items; /* SEQ: the items; MAP: the values, items[i] belongs to keys[i] */
	struct mdm_yaml_node **keys;  /* MAP: scalar key nodes, unique within the map; NULL otherwise */
};

/* Parse a whole file into a tree.
 * @param path  file to read; also the name used in error messages.
 * @param root  out: the document's root node, or NULL when the file holds no
 *              document (empty or only comments). Caller frees with mdm_yaml_free.
 * @return 0; -ENOENT/-EACCES/... (errno of open/read); -EINVAL for a YAML syntax
 *         error ("FILE:LINE:COL: syntax error: ..."), more than one document,
 *         an alias, a non-scalar mapping key, a duplicate key
 *         ("FILE:LINE: a.b: duplicate key (first at line N)") or nesting deeper
 *         than MDM_YAML_MAX_DEPTH; -ENOMEM. Detail via mdm_err_last().
 * Thread-safe (no shared state). Start-up only: allocates per node. */
int mdm_yaml_parse_file(const char *path, struct mdm_yaml_node **root);

/* As mdm_yaml_parse_file, from len bytes of text; `name` labels errors
 * (a file name, or e.g. "env MDM_RULES"). */
int mdm_yaml_parse_string(const char *text, size_t len, const char *name, struct mdm_yaml_node **root);

#define MDM_YAML_MAX_DEPTH 64

/* Free a tree (NULL-safe). Frees `node` and everything below it. */
void mdm_yaml_free(struct mdm_yaml_node *node);

/* Deep copy of a subtree (so a caller can keep part of a tree it is about to
 * free). 0 or -ENOMEM; *out is NULL on failure. src may be NULL (copies to NULL). */
int mdm_yaml_clone(const struct mdm_yaml_node *src, struct mdm_yaml_node **out);

/* Value stored under `key` in a mapping; NULL when map is NULL, not a
 * mapping, or has no such key. */
const struct mdm_yaml_node *mdm_yaml_map_get(const struct mdm_yaml_node *map, const char *key);

/* True for NULL and for plain scalars that YAML reads as null: "", "~",
 * "null", "Null", "NULL". A quoted "~" is a string, not null. */
bool mdm_yaml_is_null(const struct mdm_yaml_node *node);

/* "a scalar", "a sequence", "a mapping": for "expected X, found Y" messages. */
const char *mdm_yaml_kind_name(enum mdm_yaml_kind kind);

/* Append a YAML double-quoted scalar for n bytes of s (escapes quotes,
 * backslashes and control bytes; other bytes pass through as UTF-8). */
void mdm_yaml_write_quoted(struct mdm_buf *b, const char *s, size_t n);

/* Append a subtree in YAML flow style on one line ("[a, {k: \"v\"}]"); NULL
 * writes "~". The output parses back to an equal tree. 0 or -ENOMEM. */
int mdm_yaml_write_flow(struct mdm_buf *b, const struct mdm_yaml_node *node);

#endif
