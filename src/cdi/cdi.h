/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Container Device Interface (CDI, spec up to 1.1.0): the specs that vendors' tools write to
 * /etc/cdi and /var/run/cdi (nvidia-ctk cdi generate, AMD's, Intel's), read from JSON or YAML,
 * and the edits that fully qualified device names (vendor.com/class=name) ask of a container.
 * This module reads and resolves; the runtime applies. Nothing here runs a program.
 */
#ifndef LC_CDI_H
#define LC_CDI_H

#include <jansson.h>
#include <sys/types.h>

#include "../util/util.h"

/* ---- YAML as JSON (yaml.c) */
/* The first document of @text as a jansson tree; -EINVAL with @errbuf telling why and where. */
int lc_yaml_to_json(const char *text, size_t len, json_t **ret, char *errbuf, size_t errlen);

/* ---- a spec (spec.c) */
#define CDI_SPEC_MAX (4u << 20) /* the largest spec file read */
typedef struct lc_cdi_node {
	char *path;           /* inside the container */
	char *host_path;      /* on the host: path when the spec gives none */
	char type;            /* 'c', 'b', 'p', or 0: the host node's */
	int64_t major, minor; /* -1: the host node's */
	int64_t file_mode;    /* -1: the host node's */
	char *permissions;    /* "rwm" subset, or NULL */
	int64_t uid, gid;     /* -1: unset */
} lc_cdi_node;
typedef struct lc_cdi_mount {
	char *host_path;
	char *container_path;
	char *type; /* NULL: a bind */
	lc_strvec options;
} lc_cdi_mount;
typedef struct lc_cdi_hook {
	char *hook_name; /* createRuntime, createContainer, startContainer, poststart, ... */
	char *path;
	lc_strvec args;
	lc_strvec env;
} lc_cdi_hook;
typedef struct lc_cdi_edits {
	lc_strvec env; /* "K=V" */
	lc_cdi_node *nodes;
	size_t n_nodes;
	lc_cdi_mount *mounts;
	size_t n_mounts;
	lc_cdi_hook *hooks;
	size_t n_hooks;
	gid_t *gids;
	size_t n_gids;
} lc_cdi_edits;
typedef struct lc_cdi_device {
	char *name;
	lc_cdi_edits edits;
} lc_cdi_device;
typedef struct lc_cdi_spec {
	char *source;  /* the file, for messages */
	char *version; /* cdiVersion */
	char *kind;    /* "vendor/class" */
	lc_cdi_device *devices;
	size_t n_devices;
	lc_cdi_edits edits; /* the spec's own, for any of its devices */
} lc_cdi_spec;
/*
 * One spec (@text, from @source, for messages), JSON when it starts with '{' else YAML. Checked:
 * a cdiVersion this reader knows (0.3.0 to 1.1.0), kind "vendor/class" with CDI's name rules, at
 * least one device, device names unique and well formed, absolute paths without NUL, env as
 * K=V, numbers where numbers go. Unknown fields are ignored, as CDI's own reader does. Errors
 * name the source and the field.
 */
int lc_cdi_spec_parse(const char *text, size_t len, const char *source, lc_cdi_spec **ret,
		      lc_error *err);
lc_cdi_spec *lc_cdi_spec_free(lc_cdi_spec *spec);
/* CDI's device name rule: an alphanumeric, then alphanumerics and "_.:-". */
bool lc_cdi_device_name_ok(const char *name);
void lc_cdi_edits_clear(lc_cdi_edits *e);
/* Append a copy of every edit of @from to @to. -ENOMEM. */
int lc_cdi_edits_add(lc_cdi_edits *to, const lc_cdi_edits *from);

/* ---- the specs of a node (registry.c) */
typedef struct lc_cdi_registry {
	lc_cdi_spec **specs;
	size_t n_specs;
} lc_cdi_registry;
/*
 * The specs (*.json, *.yaml, *.yml, in name order) of each directory of @dirs (':'-separated),
 * a later directory's device winning over an earlier one's of the same name. With @root_only
 * (a root caller, such as the plugin) a spec is read only when it and its directory are root's
 * and writable by root alone, and never through a link; an unprivileged caller reads any spec
 * it can (it gains nothing it could not do itself). A spec that is skipped or bad is a warning
 * naming it, not an error. Missing directories are no error.
 */
int lc_cdi_registry_load(lc_ctx *ctx, const char *dirs, bool root_only, lc_cdi_registry **ret,
			 lc_error *err);
lc_cdi_registry *lc_cdi_registry_free(lc_cdi_registry *reg);
/* Whether some spec has the kind @kind ("nvidia.com/gpu"). */
bool lc_cdi_has_kind(const lc_cdi_registry *reg, const char *kind);
/*
 * The edits that the fully qualified names @names ask for: each device's, and once each, the
 * spec's own of every spec involved. An unknown or malformed name, or a device that two specs
 * of one directory define, is an error naming it.
 */
int lc_cdi_resolve(const lc_cdi_registry *reg, const char *const *names, lc_cdi_edits *ret,
		   lc_error *err);

/* The edits of the spec that defines the device @name, not the device's own, added to @edits
 * (NVIDIA_VISIBLE_DEVICES=none: the driver without GPUs). */
int lc_cdi_resolve_spec_of(const lc_cdi_registry *reg, const char *name, lc_cdi_edits *edits,
			   lc_error *err);

/* ---- NVIDIA's rules (nvidia.c) */
enum {
	LC_NVIDIA_CAP_COMPUTE = 1u << 0,
	LC_NVIDIA_CAP_COMPAT32 = 1u << 1,
	LC_NVIDIA_CAP_DISPLAY = 1u << 2,
	LC_NVIDIA_CAP_GRAPHICS = 1u << 3,
	LC_NVIDIA_CAP_UTILITY = 1u << 4,
	LC_NVIDIA_CAP_VIDEO = 1u << 5,
	LC_NVIDIA_CAP_ALL = (1u << 6) - 1,
};
typedef struct lc_nvidia_request {
	bool wanted;           /* NVIDIA_VISIBLE_DEVICES set, not void */
	bool explicit_request; /* ... by the caller (the job), not only the image */
	bool all;              /* "all" */
	lc_strvec devices;     /* the selectors asked for; none with "none" (the driver alone) */
	uint32_t caps;         /* LC_NVIDIA_CAP_*; default utility */
	lc_strvec requires;    /* NVIDIA_REQUIRE_* values, unless NVIDIA_DISABLE_REQUIRE */
	char *mig_config, *mig_monitor; /* NVIDIA_MIG_CONFIG_DEVICES / _MONITOR_DEVICES */
} lc_nvidia_request;
/*
 * The request of a container whose caller has @caller_env and image @image_env ("K=V" each; the
 * caller's value of a name wins, as enroot's hook reads them). Unset, empty or "void": nothing
 * (wanted false). "none": the driver without GPU nodes. An unknown capability or a malformed
 * selector is an error naming it ("Unknown NVIDIA driver capability: X", enroot's words).
 */
int lc_nvidia_request_parse(const char *const *caller_env, const char *const *image_env,
			    lc_nvidia_request *r, lc_error *err);
void lc_nvidia_request_clear(lc_nvidia_request *r);
/* The CDI names of @r's GPUs ("nvidia.com/gpu=all", "nvidia.com/gpu=0", ...), added to
 * @names: nvidia-ctk names the devices by the same selectors. -ENOMEM. */
int lc_nvidia_cdi_names(const lc_nvidia_request *r, lc_strvec *names);
typedef struct lc_nvidia_host {
	const char *driver; /* "550.54.15" */
	const char *cuda;   /* "12.4": the CUDA version the driver supports */
	const char *arch;   /* "9.0": the compute capability of the first GPU */
	const char *brand;  /* "tesla", "nvidia", ... */
} lc_nvidia_host;
/*
 * Every requirement of @r met by @host: each is blank-separated alternatives of comma-joined
 * conditions key<op>value on cuda, driver, arch, brand with = != < <= > >= (versions compared by
 * components, brand by name). An unmet one fails with one line naming it and the node's driver
 * and CUDA versions; a malformed one is an error too. A value the host does not know (NULL)
 * leaves its alternative undecided, and an undecided alternative does not fail the requirement:
 * a start is refused only for what is known to be unmet.
 */
int lc_nvidia_check_requires(const lc_nvidia_request *r, const lc_nvidia_host *host, lc_error *err);
/* Some requirement of @r is neither met nor unmet by what @host knows (worth asking the driver
 * for the GPU's brand and architecture). */
bool lc_nvidia_requires_undecided(const lc_nvidia_request *r, const lc_nvidia_host *host);

#endif
