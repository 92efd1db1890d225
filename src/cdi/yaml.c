/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML, read with libyaml, as a jansson tree: CDI specs come as JSON or YAML, and one decoder
 * (spec.c) reads both. The first document only; mappings with string keys, sequences and
 * scalars (plain ones that are integers, true/false or null become those, everything else a
 * string). Anchors and aliases are refused (a spec has no use for them, and an alias bomb
 * would blow up the tree), as is nesting deeper than LC_YAML_DEPTH_MAX.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cdi.h"

#define LC_YAML_DEPTH_MAX 64

typedef struct yaml_reader {
	yaml_parser_t parser;
	char *errbuf;
	size_t errlen;
} yaml_reader;

static json_t *plain_scalar(const char *v, size_t len)
{
	char *end = NULL;
	long long n;

	if (!len || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	    !strcmp(v, "NULL"))
		return json_null();
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return json_true();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return json_false();
	errno = 0;
	n = strtoll(v, &end, strncmp(v, "0o", 2) ? (strncmp(v, "0x", 2) ? 10 : 16) : 8);
	if (v[0] != '+' && !errno && end && !*end && end != v)
		return json_integer(n);
	return json_stringn(v, len);
}

static int fail(yaml_reader *y, const char *what)
{
	snprintf(y->errbuf, y->errlen, "%s at line %zu", what, (size_t)y->parser.mark.line + 1);
	return -EINVAL;
}

static int next_event(yaml_reader *y, yaml_event_t *e)
{
	if (!yaml_parser_parse(&y->parser, e)) {
		snprintf(y->errbuf, y->errlen, "%s at line %zu",
			 y->parser.problem ? y->parser.problem : "malformed YAML",
			 (size_t)y->parser.problem_mark.line + 1);
		return -EINVAL;
	}
	return 0;
}

static int read_node(yaml_reader *y, yaml_event_t *first, int depth, json_t **ret);

static int read_children(yaml_reader *y, json_t *parent, bool mapping, int depth)
{
	for (;;) {
		yaml_event_t e;
		json_t *key = NULL, *value = NULL;
		int r = next_event(y, &e);

		if (r < 0)
			return r;
		if (e.type == (mapping ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
			yaml_event_delete(&e);
			return 0;
		}
		if (mapping) {
			r = read_node(y, &e, depth, &key);
			if (r >= 0 && !json_is_string(key))
				r = fail(y, "a mapping key that is not a string");
			if (r >= 0)
				r = next_event(y, &e) < 0 ? -EINVAL
							  : read_node(y, &e, depth, &value);
			if (r >= 0 &&
			    json_object_set_new(parent, json_string_value(key), value) < 0)
				r = -ENOMEM;
			json_decref(key);
		} else {
			r = read_node(y, &e, depth, &value);
			if (r >= 0 && json_array_append_new(parent, value) < 0)
				r = -ENOMEM;
		}
		if (r < 0)
			return r;
	}
}

/* The node that starts with @first (consumed). */
static int read_node(yaml_reader *y, yaml_event_t *first, int depth, json_t **ret)
{
	yaml_event_t e = *first;
	json_t *node = NULL;
	int r = 0;

	*ret = NULL;
	if (depth > LC_YAML_DEPTH_MAX) {
		yaml_event_delete(&e);
		return fail(y, "nesting too deep");
	}
	switch (e.type) {
	case YAML_SCALAR_EVENT:
		if (e.data.scalar.anchor)
			r = fail(y, "an anchor");
		else if (e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !e.data.scalar.tag)
			node =
			    plain_scalar((const char *)e.data.scalar.value, e.data.scalar.length);
		else
			node =
			    json_stringn((const char *)e.data.scalar.value, e.data.scalar.length);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if ((e.type == YAML_SEQUENCE_START_EVENT ? e.data.sequence_start.anchor
							 : e.data.mapping_start.anchor)) {
			r = fail(y, "an anchor");
			break;
		}
		node = e.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
		if (node)
			r = read_children(y, node, e.type == YAML_MAPPING_START_EVENT, depth + 1);
		break;
	case YAML_ALIAS_EVENT:
		r = fail(y, "an alias");
		break;
	default:
		r = fail(y, "unexpected YAML");
	}
	yaml_event_delete(&e);
	if (r >= 0 && !node)
		r = -ENOMEM;
	if (r < 0) {
		json_decref(node);
		return r;
	}
	*ret = node;
	return 0;
}

int lc_yaml_to_json(const char *text, size_t len, json_t **ret, char *errbuf, size_t errlen)
{
	yaml_reader y = {.errbuf = errbuf, .errlen = errlen};
	yaml_event_t e;
	int r = 0;

	*ret = NULL;
	if (!yaml_parser_initialize(&y.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
	/* stream start, document start, the root node */
	for (int i = 0; r >= 0 && i < 2; i++) {
		r = next_event(&y, &e);
		if (r >= 0 && e.type == YAML_STREAM_END_EVENT)
			r = fail(&y, "no document");
		if (r >= 0)
			yaml_event_delete(&e);
	}
	if (r >= 0)
		r = next_event(&y, &e);
	if (r >= 0)
		r = read_node(&y, &e, 0, ret);
	yaml_parser_delete(&y.parser);
	return r;
}
