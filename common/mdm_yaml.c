/* YAML tree builder: one recursive pass over libyaml's event stream. The
 * dotted path of the node being built is kept alongside, so that errors found
 * while building (duplicate keys, aliases) name the key the way config errors
 * do: "FILE:LINE: a.b[2].c: reason". */
#include "mdm_yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "mdm_err.h"
#include "mdm_mem.h"

/* Config and rules files are hand-written; anything this big is a mistake. */
#define YAML_FILE_MAX (64u << 20)

struct builder {
	yaml_parser_t parser;
	const char *name; /* file name or origin, for messages */
	struct mdm_buf path;
};

static const char *path_or_top(const struct builder *b)
{
	return b->path.len ? b->path.data : "(top level)";
}

static void path_truncate(struct builder *b, size_t len)
{
	b->path.len = len;
	if (b->path.data)
		b->path.data[len] = '\0';
}

static int oom(const struct builder *b)
{
	return mdm_err_set(-ENOMEM, "%s: out of memory while reading YAML", b->name);
}

static int syntax_err(const struct builder *b)
{
	const yaml_parser_t *p = &b->parser;

	if (p->error == YAML_MEMORY_ERROR)
		return oom(b);
	/* The reader (encoding) stage reports a byte offset, not a mark. */
	if (p->error == YAML_READER_ERROR)
		return mdm_err_set(-EINVAL, "%s: syntax error at byte %zu: %s", b->name, p->problem_offset,
				   p->problem ? p->problem : "unreadable input");
	if (p->context)
		return mdm_err_set(-EINVAL, "%s:%zu:%zu: syntax error: %s (%s that started at line %zu, column %zu)",
				   b->name, p->problem_mark.line + 1, p->problem_mark.column + 1, p->problem,
				   p->context, p->context_mark.line + 1, p->context_mark.column + 1);
	return mdm_err_set(-EINVAL, "%s:%zu:%zu: syntax error: %s", b->name, p->problem_mark.line + 1,
			   p->problem_mark.column + 1, p->problem ? p->problem : "invalid YAML");
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev))
		return syntax_err(b);
	return 0;
}

static struct mdm_yaml_node *node_new(enum mdm_yaml_kind kind, const yaml_mark_t *mark)
{
	struct mdm_yaml_node *n = mdm_calloc(1, sizeof(*n));

	if (n) {
		n->kind = kind;
		n->line = (unsigned)mark->line + 1;
		n->column = (unsigned)mark->column + 1;
	}
	return n;
}

void mdm_yaml_free(struct mdm_yaml_node *node)
{
	if (!node)
		return;
	for (size_t i = 0; i < node->n; i++) {
		if (node->keys)
			mdm_yaml_free(node->keys[i]);
		mdm_yaml_free(node->items[i]);
	}
	mdm_free(node->keys);
	mdm_free(node->items);
	mdm_free(node->text);
	mdm_free(node);
}

static int scalar_set(struct mdm_yaml_node *n, const char *text, size_t len, bool plain)
{
	n->text = mdm_malloc(len + 1);
	if (!n->text)
		return -ENOMEM;
	memcpy(n->text, text, len);
	n->text[len] = '\0';
	n->len = len;
	n->plain = plain;
	return 0;
}

/* Make room for one more child; keys is grown only for mappings. */
static int grow(struct mdm_yaml_node *n, size_t *cap)
{
	size_t ncap;
	void *p;

	if (n->n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	p = mdm_realloc(n->items, ncap * sizeof(*n->items));
	if (!p)
		return -ENOMEM;
	n->items = p;
	if (n->kind == MDM_YAML_MAP) {
		p = mdm_realloc(n->keys, ncap * sizeof(*n->keys));
		if (!p)
			return -ENOMEM;
		n->keys = p;
	}
	*cap = ncap;
	return 0;
}

static int build(struct builder *b, yaml_event_t *ev, unsigned depth, struct mdm_yaml_node **out);

static int build_seq(struct builder *b, struct mdm_yaml_node *seq, unsigned depth)
{
	size_t cap = 0, mark = b->path.len;
	yaml_event_t ev;
	int rc;

	for (;;) {
		if ((rc = next_event(b, &ev)) != 0)
			return rc;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (grow(seq, &cap) != 0 || mdm_buf_printf(&b->path, "[%zu]", seq->n) != 0) {
			yaml_event_delete(&ev);
			return oom(b);
		}
		rc = build(b, &ev, depth + 1, &seq->items[seq->n]);
		if (rc != 0)
			return rc;
		seq->n++;
		path_truncate(b, mark);
	}
}

static int build_map(struct builder *b, struct mdm_yaml_node *map, unsigned depth)
{
	size_t cap = 0, mark = b->path.len;
	struct mdm_yaml_node *key = NULL;
	yaml_event_t ev;
	int rc;

	for (;;) {
		if ((rc = next_event(b, &ev)) != 0)
			return rc;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			rc = mdm_err_set(-EINVAL, "%s:%zu: %s: mapping keys must be scalars", b->name,
					 ev.start_mark.line + 1, path_or_top(b));
			yaml_event_delete(&ev);
			return rc;
		}
		if ((rc = build(b, &ev, depth + 1, &key)) != 0)
			return rc;
		for (size_t i = 0; i < map->n; i++) {
			const struct mdm_yaml_node *k = map->keys[i];

			if (k->len == key->len && memcmp(k->text, key->text, k->len) == 0) {
				if ((b->path.len && mdm_buf_putc(&b->path, '.') != 0) ||
				    mdm_buf_append(&b->path, key->text, key->len) != 0)
					rc = oom(b);
				else
					rc = mdm_err_set(-EINVAL, "%s:%u: %s: duplicate key (first at line %u)", b->name,
							 key->line, b->path.data, k->line);
				mdm_yaml_free(key);
				return rc;
			}
		}
		if (grow(map, &cap) != 0 || (b->path.len && mdm_buf_putc(&b->path, '.') != 0) ||
		    mdm_buf_append(&b->path, key->text, key->len) != 0) {
			mdm_yaml_free(key);
			return oom(b);
		}
		/* Owned by the map from here, so every later failure frees it. */
		map->keys[map->n] = key;
		map->items[map->n] = NULL;
		map->n++;
		key = NULL;
		if ((rc = next_event(b, &ev)) != 0)
			return rc;
		if ((rc = build(b, &ev, depth + 1, &map->items[map->n - 1])) != 0)
			return rc;
		path_truncate(b, mark);
	}
}

/* Consumes (deletes) *ev on every path. */
static int build(struct builder *b, yaml_event_t *ev, unsigned depth, struct mdm_yaml_node **out)
{
	struct mdm_yaml_node *n = NULL;
	int rc = 0;

	*out = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = node_new(MDM_YAML_SCALAR, &ev->start_mark);
		if (!n || scalar_set(n, (const char *)ev->data.scalar.value, ev->data.scalar.length,
				     ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) != 0)
			rc = oom(b);
		yaml_event_delete(ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (depth >= MDM_YAML_MAX_DEPTH) {
			rc = mdm_err_set(-EINVAL, "%s:%zu: %s: nesting deeper than %d levels", b->name,
					 ev->start_mark.line + 1, path_or_top(b), MDM_YAML_MAX_DEPTH);
			yaml_event_delete(ev);
			break;
		}
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? MDM_YAML_MAP : MDM_YAML_SEQ, &ev->start_mark);
		yaml_event_delete(ev);
		if (!n)
			rc = oom(b);
		else if (n->kind == MDM_YAML_MAP)
			rc = build_map(b, n, depth);
		else
			rc = build_seq(b, n, depth);
		break;
	case YAML_ALIAS_EVENT:
		/* Aliases would make shared nodes (and billion-laughs blow-ups);
		 * config files do not need them. */
		rc = mdm_err_set(-EINVAL, "%s:%zu: %s: aliases (*%s) are not supported", b->name,
				 ev->start_mark.line + 1, path_or_top(b), (const char *)ev->data.alias.anchor);
		yaml_event_delete(ev);
		break;
	default:
		rc = mdm_err_set(-EINVAL, "%s:%zu: unexpected YAML event %d", b->name, ev->start_mark.line + 1,
				 (int)ev->type);
		yaml_event_delete(ev);
		break;
	}
	if (rc != 0) {
		mdm_yaml_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

static int parse_doc(struct builder *b, struct mdm_yaml_node **root)
{
	yaml_event_t ev;
	int rc;

	if ((rc = next_event(b, &ev)) != 0) /* STREAM-START */
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next_event(b, &ev)) != 0)
		return rc;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev); /* DOCUMENT-START */
	if ((rc = next_event(b, &ev)) != 0)
		return rc;
	if ((rc = build(b, &ev, 0, root)) != 0)
		return rc;
	if ((rc = next_event(b, &ev)) != 0) /* DOCUMENT-END */
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next_event(b, &ev)) != 0)
		return rc;
	if (ev.type == YAML_DOCUMENT_START_EVENT)
		rc = mdm_err_set(-EINVAL, "%s:%zu: only one YAML document is allowed", b->name,
				 ev.start_mark.line + 1);
	yaml_event_delete(&ev);
	return rc;
}

int mdm_yaml_parse_string(const char *text, size_t len, const char *name, struct mdm_yaml_node **root)
{
	struct builder b = { .name = name ? name : "(string)", .path = MDM_BUF_INIT };
	int rc;

	*root = NULL;
	if (!yaml_parser_initialize(&b.parser))
		return oom(&b);
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
	rc = parse_doc(&b, root);
	yaml_parser_delete(&b.parser);
	mdm_buf_fini(&b.path);
	if (rc != 0) {
		mdm_yaml_free(*root);
		*root = NULL;
	}
	return rc;
}

int mdm_yaml_parse_file(const char *path, struct mdm_yaml_node **root)
{
	struct mdm_buf text = MDM_BUF_INIT;
	struct stat st;
	int fd, rc = 0;

	*root = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mdm_err_set(-errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = mdm_err_set(-errno, "%s: %s", path, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		rc = mdm_err_set(-EISDIR, "%s: is a directory", path);
	} else {
		for (;;) {
			ssize_t got;

			if (text.len >= YAML_FILE_MAX) {
				rc = mdm_err_set(-EFBIG, "%s: larger than %u bytes", path, YAML_FILE_MAX);
				break;
			}
			if (mdm_buf_reserve(&text, 4096) != 0) {
				rc = mdm_err_set(-ENOMEM, "%s: out of memory while reading", path);
				break;
			}
			got = read(fd, text.data + text.len, text.cap - text.len - 1);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				rc = mdm_err_set(-errno, "%s: %s", path, strerror(errno));
				break;
			}
			if (got == 0)
				break;
			text.len += (size_t)got;
		}
	}
	close(fd);
	if (rc == 0)
		rc = mdm_yaml_parse_string(text.data ? text.data : "", text.len, path, root);
	mdm_buf_fini(&text);
	return rc;
}

int mdm_yaml_clone(const struct mdm_yaml_node *src, struct mdm_yaml_node **out)
{
	struct mdm_yaml_node *n;

	*out = NULL;
	if (!src)
		return 0;
	n = mdm_calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->kind = src->kind;
	n->line = src->line;
	n->column = src->column;
	if (src->kind == MDM_YAML_SCALAR && scalar_set(n, src->text, src->len, src->plain) != 0)
		goto err;
	if (src->n) {
		n->items = mdm_calloc(src->n, sizeof(*n->items));
		if (!n->items)
			goto err;
		if (src->keys) {
			n->keys = mdm_calloc(src->n, sizeof(*n->keys));
			if (!n->keys)
				goto err;
		}
		/* n->n counts fully copied pairs, so mdm_yaml_free sees only those. */
		for (; n->n < src->n; n->n++) {
			if (src->keys && mdm_yaml_clone(src->keys[n->n], &n->keys[n->n]) != 0)
				goto err;
			if (mdm_yaml_clone(src->items[n->n], &n->items[n->n]) != 0) {
				if (n->keys)
					mdm_yaml_free(n->keys[n->n]);
				goto err;
			}
		}
	}
	*out = n;
	return 0;
err:
	mdm_yaml_free(n);
	return -ENOMEM;
}

const struct mdm_yaml_node *mdm_yaml_map_get(const struct mdm_yaml_node *map, const char *key)
{
	size_t len;

	if (!map || map->kind != MDM_YAML_MAP)
		return NULL;
	len = strlen(key);
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i]->len == len && memcmp(map->keys[i]->text, key, len) == 0)
			return map->items[i];
	return NULL;
}

bool mdm_yaml_is_null(const struct mdm_yaml_node *node)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL" };

	if (!node)
		return true;
	if (node->kind != MDM_YAML_SCALAR || !node->plain)
		return false;
	if (node->len == 0)
		return true;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(node->text, nulls[i]) == 0)
			return true;
	return false;
}

const char *mdm_yaml_kind_name(enum mdm_yaml_kind kind)
{
	switch (kind) {
	case MDM_YAML_SCALAR: return "a scalar";
	case MDM_YAML_SEQ: return "a sequence";
	case MDM_YAML_MAP: return "a mapping";
	}
	return "an unknown node";
}

void mdm_yaml_write_quoted(struct mdm_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	mdm_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* YAML line breaks beyond ASCII (NEL U+0085, LS U+2028, PS U+2029)
		 * would be folded by a reader: write their escapes */
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0x85) {
			mdm_buf_puts(b, "\\N");
			i++;
			continue;
		}
		if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			mdm_buf_puts(b, (unsigned char)s[i + 2] == 0xa8 ? "\\L" : "\\P");
			i += 2;
			continue;
		}
		switch (c) {
		case '"': mdm_buf_puts(b, "\\\""); break;
		case '\\': mdm_buf_puts(b, "\\\\"); break;
		case '\n': mdm_buf_puts(b, "\\n"); break;
		case '\t': mdm_buf_puts(b, "\\t"); break;
		case '\r': mdm_buf_puts(b, "\\r"); break;
		case '\0': mdm_buf_puts(b, "\\0"); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char esc[5] = { '\\', 'x', hex[c >> 4], hex[c & 15], '\0' };

				mdm_buf_puts(b, esc);
			} else {
				mdm_buf_putc(b, (char)c);
			}
		}
	}
	mdm_buf_putc(b, '"');
}

/* Plain scalars that read back as the same text in flow context: no flow
 * indicators, no ':' or '#', no leading indicator, no edge spaces. */
static bool flow_plain_safe(const struct mdm_yaml_node *n)
{
	if (!n->plain || n->len == 0 || n->text[0] == ' ' || n->text[n->len - 1] == ' ')
		return false;
	for (size_t i = 0; i < n->len; i++) {
		unsigned char c = (unsigned char)n->text[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '/' || c == '+' || (i > 0 && (c == '-' || c == ' '))))
			return false;
	}
	return true;
}

int mdm_yaml_write_flow(struct mdm_buf *b, const struct mdm_yaml_node *node)
{
	if (mdm_yaml_is_null(node)) {
		mdm_buf_putc(b, '~');
	} else if (node->kind == MDM_YAML_SCALAR) {
		if (flow_plain_safe(node))
			mdm_buf_append(b, node->text, node->len);
		else
			mdm_yaml_write_quoted(b, node->text, node->len);
	} else {
		mdm_buf_putc(b, node->kind == MDM_YAML_MAP ? '{' : '[');
		for (size_t i = 0; i < node->n; i++) {
			if (i)
				mdm_buf_puts(b, ", ");
			if (node->kind == MDM_YAML_MAP) {
				mdm_yaml_write_flow(b, node->keys[i]);
				mdm_buf_puts(b, ": ");
			}
			mdm_yaml_write_flow(b, node->items[i]);
		}
		mdm_buf_putc(b, node->kind == MDM_YAML_MAP ? '}' : ']');
	}
	return b->oom ? -ENOMEM : 0;
}
