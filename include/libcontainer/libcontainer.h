/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcontainer: pull OCI/Docker images, build squashfs images, start containers.
 *
 * The one installed header. Conventions (see docs/api.md):
 *  - every fallible call returns 0 on success or a negative code (-errno or -LC_E*), and fills the
 *    caller-owned lc_error (may be NULL) with a one-line message; the error is untouched on
 *    success;
 *  - parameters come in one order: the context (lc_ctx) first when a call takes one, then the
 *    handle it acts on, its inputs, its options, its out-parameters (ret_*, filled only on
 *    success), and the lc_error last;
 *  - handles are opaque; each _new/_pull has a NULL-safe _free that returns NULL;
 *  - returned `const char *` are borrowed and live as long as the handle they came from;
 *  - option structs start with a version field: initialise them with their *_INIT macro. Every
 *    call accepts any version from 1 to the current one (fields added later are then taken as
 *    their defaults) and refuses a newer one with -EINVAL; every flags field has an *_ALL mask
 *    of its valid bits, and a bit outside it is -EINVAL;
 *  - "image" is the image description (lc_image); a squashfs file is named by its path;
 *  - the library never prints and never exits: it logs through the callback set on its context.
 */
#ifndef LIBCONTAINER_H
#define LIBCONTAINER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef LC_API
#define LC_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- errors */

/** Error codes beyond errno values (returned negated). */
enum {
	LC_EBASE = 1000,
	LC_EREF,      /**< malformed image reference */
	LC_EHTTP,     /**< HTTP error answer or transport failure */
	LC_EAUTH,     /**< authentication or authorisation failed */
	LC_EMANIFEST, /**< manifest or config invalid, unsupported or too large */
	LC_EPLATFORM, /**< no manifest for the requested platform */
	LC_EDIGEST,   /**< content does not match its digest */
	LC_ENOTFOUND, /**< image, tag or blob not found in the registry */
	LC_ECANCELED, /**< cancelled by a callback */
};

/** Where an error came from (for callers that want to react differently). */
enum {
	LC_DOMAIN_NONE = 0,
	LC_DOMAIN_SYSTEM, /**< code is an errno value */
	LC_DOMAIN_REF,
	LC_DOMAIN_HTTP,
	LC_DOMAIN_REGISTRY,
};

/** Caller-owned error: a fixed buffer, so filling it never allocates. */
typedef struct lc_error {
	int code;      /**< positive errno or LC_E* value; 0 when no error */
	int domain;    /**< LC_DOMAIN_* */
	char msg[512]; /**< one line, no final period */
} lc_error;
#define LC_ERROR_INIT     \
	{                 \
		0, 0,     \
		{         \
			0 \
		}         \
	}

/** The message of @err, or "" when it holds none. Never NULL. */
LC_API const char *lc_error_message(const lc_error *err);
/**
 * Fill @err (may be NULL) with @code (an errno value or LC_E*; negative values are taken as
 * their opposite) and a printf-style message; returns -@code. For programs built on the library
 * that report their own failures in the same form.
 */
LC_API int lc_error_set(lc_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- context and logging */

typedef struct lc_ctx lc_ctx;

enum lc_log_level { LC_LOG_ERROR = 0, LC_LOG_WARNING, LC_LOG_INFO, LC_LOG_DEBUG };

/**
 * Log sink. Called from the thread doing the work (downloads run in a worker thread), so a sink
 * shared between threads must be thread-safe. @msg has no trailing newline.
 */
typedef void (*lc_log_fn)(void *userdata, enum lc_log_level level, const char *msg);

/** The library's version ("0.1.0"), the one meson builds it as. */
LC_API const char *lc_version(void);

/** New context. No log sink is set: the library is silent until lc_ctx_set_log(). */
LC_API int lc_ctx_new(lc_ctx **ret_ctx, lc_error *err);
LC_API lc_ctx *lc_ctx_free(lc_ctx *ctx);
/** Messages above @max_level are dropped before they are formatted. */
LC_API void lc_ctx_set_log(lc_ctx *ctx, lc_log_fn fn, enum lc_log_level max_level, void *userdata);

/* ---------------------------------------------------------------- image references */

typedef struct lc_ref lc_ref;

/**
 * Parse an image reference. Accepted forms:
 *   enroot/pyxis:  [docker://][USER@][REGISTRY#]IMAGE[:TAG][@sha256:HEX]
 *   Docker:        [docker://][USER@][REGISTRY[:PORT]/]REPO[:TAG][@sha256:HEX]
 * In the Docker form the first component is a registry when it contains '.' or ':' or is
 * "localhost". Docker Hub: registry "registry-1.docker.io" (docker.io and index.docker.io map to
 * it), "library/" before one-component names. Tag defaults to "latest" when no digest is given.
 * Errors: -LC_EREF with a message quoting the input.
 */
LC_API int lc_ref_parse(const char *text, lc_ref **ret_ref, lc_error *err);
LC_API lc_ref *lc_ref_free(lc_ref *ref);
LC_API const char *lc_ref_registry(const lc_ref *ref);   /**< host[:port] */
LC_API const char *lc_ref_repository(const lc_ref *ref); /**< e.g. "library/debian" */
LC_API const char *lc_ref_tag(const lc_ref *ref);        /**< NULL when pinned by digest only */
LC_API const char *lc_ref_digest(const lc_ref *ref);     /**< "sha256:…" or NULL */
LC_API const char *lc_ref_user(const lc_ref *ref);       /**< USER@ part or NULL */
/** Canonical "registry/repository[:tag][@digest]" (no user). */
LC_API const char *lc_ref_string(const lc_ref *ref);

/* ---------------------------------------------------------------- pulling images */

typedef struct lc_image lc_image;
typedef struct lc_pull lc_pull;

/** One progress report: a layer (or the config blob, index == SIZE_MAX) made progress. */
typedef struct lc_progress {
	size_t index;       /**< layer index (0 = bottom layer), SIZE_MAX for the config */
	const char *digest; /**< "sha256:…" */
	uint64_t done;      /**< bytes present (downloaded or found in the cache) */
	uint64_t total;     /**< bytes expected (from the manifest) */
	bool cached;        /**< the blob was already in the cache */
	bool finished;      /**< verified and stored */
} lc_progress;

/** Progress sink; return non-zero to cancel the pull (it then fails with -LC_ECANCELED). */
typedef int (*lc_progress_fn)(void *userdata, const lc_progress *p);

enum {
	/** Allow plain HTTP for every registry (ENROOT_ALLOW_HTTP=yes); default: HTTPS only. */
	LC_PULL_ALLOW_HTTP = 1u << 0,
	/** Read ENROOT_ALLOW_HTTP, ENROOT_MAX_CONNECTIONS, ENROOT_CONFIG_PATH, DOCKER_CONFIG, HOME.
	 */
	LC_PULL_USE_ENV = 1u << 1,
	/** Accept an image whose config names another platform than the one asked for. */
	LC_PULL_ANY_PLATFORM = 1u << 2,
	LC_PULL_ALL = (1u << 3) - 1,
};

typedef struct lc_pull_opts {
	uint32_t version; /**< LC_PULL_OPTS_VERSION */
	uint32_t flags;   /**< LC_PULL_*; unknown bits -> -EINVAL */
	/** Blob cache root; blobs go to <cache_dir>/blobs/sha256/<hex>. NULL: $XDG_CACHE_HOME or
	 *  $HOME/.cache, + "/libcontainer". */
	const char *cache_dir;
	/** netrc-form credentials ("machine HOST login USER password PASS"); NULL: none, or with
	 *  LC_PULL_USE_ENV $ENROOT_CONFIG_PATH/.credentials (default
	 * ~/.config/enroot/.credentials). */
	const char *credentials_file;
	/** docker config.json with "auths"; NULL: none, or with LC_PULL_USE_ENV
	 *  $DOCKER_CONFIG/config.json (default ~/.docker/config.json). */
	const char *docker_config;
	/** Comma-separated host[:port] list for which plain HTTP is used (NULL: none). */
	const char *http_registries;
	/** Platform wanted; NULL: the host's (os "linux", architecture from uname, e.g. amd64). */
	const char *os;
	const char *architecture;
	const char *variant;
	unsigned max_connections;   /**< parallel blob downloads; 0: 8 */
	unsigned retries;           /**< attempts after the first for one request; 0: 5 */
	unsigned retry_base_ms;     /**< first backoff delay, doubled each time; 0: 500 */
	unsigned connect_timeout_s; /**< 0: 30 */
	unsigned low_speed_time_s; /**< abort a transfer slower than 1 KiB/s for this long; 0: 60 */
	lc_progress_fn progress;
	void *progress_userdata;
} lc_pull_opts;
#define LC_PULL_OPTS_VERSION 1
#define LC_PULL_OPTS_INIT                                                                         \
	{                                                                                         \
		LC_PULL_OPTS_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, \
		    NULL, NULL                                                                    \
	}

/**
 * Resolve @ref: authenticate, fetch the manifest (choosing the platform in an index), verify it
 * against a pinned digest, fetch and parse the image config. Downloads no layer yet.
 * @opts may be NULL (defaults). The pull keeps pointers into @opts: keep it alive until
 * lc_pull_free().
 */
LC_API int lc_pull_new(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts, lc_pull **ret_pull,
		       lc_error *err);
/**
 * A pull from an image archive that a local daemon saves (`docker save IMAGE`, `podman save
 * --format docker-archive IMAGE`: enroot's dockerd:// and podman://), read as a stream from
 * @fd (a pipe from the daemon's command, or the file). Its members are kept while the pull
 * lives, in a directory under @opts's cache directory (hashed as they come: the archive is read
 * once); the pull then sees a registry that serves a manifest made from the config's and the
 * layers' digests (so the same image always has the same manifest digest) and those blobs, and
 * everything after is a registry pull: lc_import, lc_cache_fill, their checks. @ref is the
 * reference the image gets (e.g. "dockerd.local/ubuntu:24.04"); @tag (may be NULL) picks the
 * entry of manifest.json whose RepoTags hold it when the archive has several. Errors name the
 * archive's fault ("image archive: no manifest.json (not a docker-archive)").
 */
LC_API int lc_pull_new_archive(lc_ctx *ctx, int fd, const char *ref, const char *tag,
			       const lc_pull_opts *opts, lc_pull **ret_pull, lc_error *err);
/** The resolved image (manifest, config, layers). Borrowed, lives with @pull. */
LC_API const lc_image *lc_pull_image(const lc_pull *pull);
/** Start downloading every layer in a worker thread (blobs already cached are not fetched). */
LC_API int lc_pull_start(lc_pull *pull, lc_error *err);
/**
 * Read the next bytes of layer @index (compressed, as stored) while it downloads: blocks until
 * data is there. *@ret_n == 0 means the layer is complete (and verified). Each layer has its own
 * read position. Needs lc_pull_start().
 */
LC_API int lc_pull_layer_read(lc_pull *pull, size_t index, void *buf, size_t len, size_t *ret_n,
			      lc_error *err);
/** Wait until every layer is verified and stored in the cache. */
LC_API int lc_pull_wait(lc_pull *pull, lc_error *err);
/** Cancels downloads still running; partial files are removed. */
LC_API lc_pull *lc_pull_free(lc_pull *pull);

/** lc_pull_new + lc_pull_start + lc_pull_wait; the image is the caller's. */
LC_API int lc_image_pull(lc_ctx *ctx, const char *ref, const lc_pull_opts *opts,
			 lc_image **ret_image, lc_error *err);
LC_API lc_image *lc_image_free(lc_image *img);

/* ---------------------------------------------------------------- image description */

LC_API const char *lc_image_reference(const lc_image *img);    /**< canonical reference */
LC_API const char *lc_image_digest(const lc_image *img);       /**< platform manifest digest */
LC_API const char *lc_image_index_digest(const lc_image *img); /**< NULL unless from an index */
LC_API const char *lc_image_config_digest(const lc_image *img);
LC_API const char *lc_image_os(const lc_image *img);
LC_API const char *lc_image_architecture(const lc_image *img);
LC_API size_t lc_image_layer_count(const lc_image *img);
LC_API const char *lc_image_layer_digest(const lc_image *img, size_t index);
LC_API const char *lc_image_layer_media_type(const lc_image *img, size_t index);
LC_API uint64_t lc_image_layer_size(const lc_image *img, size_t index);
/** Path of the layer blob in the cache (exists once the pull finished). */
LC_API const char *lc_image_layer_path(const lc_image *img, size_t index);
/** NULL-terminated arrays; NULL when the config does not set them. */
LC_API const char *const *lc_image_env(const lc_image *img);
LC_API const char *const *lc_image_entrypoint(const lc_image *img);
LC_API const char *const *lc_image_cmd(const lc_image *img);
LC_API const char *lc_image_workdir(const lc_image *img); /**< NULL when unset */
LC_API const char *lc_image_user(const lc_image *img);    /**< NULL when unset */
/** Label value, or NULL. */
LC_API const char *lc_image_label(const lc_image *img, const char *key);
/** Number of labels, and the key of label @index (sorted by key). */
LC_API size_t lc_image_label_count(const lc_image *img);
LC_API const char *lc_image_label_key(const lc_image *img, size_t index);

/* ---------------------------------------------------------------- importing images */

enum {
	LC_IMPORT_FORCE = 1u << 0,    /**< replace an existing output file */
	LC_IMPORT_ALL_ROOT = 1u << 1, /**< every owner becomes 0:0 (mksquashfs -all-root) */
	LC_IMPORT_ZLIB = 1u << 2,     /**< inflate gzip with zlib instead of ISA-L */
	/** do not check the layers against the config's rootfs.diff_ids (for comparison, and for
	 *  an image whose config lacks them); by default a layer whose uncompressed stream is not
	 *  its diff_id, or a count that differs, fails the import, as in containerd */
	LC_IMPORT_NO_DIFF_IDS = 1u << 3,
	LC_IMPORT_ALL = (1u << 4) - 1,
};

/** Where an import is (reported from the thread that called lc_import or lc_cache_fill). */
enum lc_import_phase {
	LC_IMPORT_CONVERTING,
	LC_IMPORT_FINISHING,
	LC_IMPORT_DONE,
	/** lc_cache_fill() waits for another import of the same entry (on this node or, in a
	 *  shared directory, on another); once a second, with what that import last said of
	 *  itself. Only reported to callers of lc_import_opts version 3 or later. */
	LC_IMPORT_WAITING,
};
typedef struct lc_import_progress {
	enum lc_import_phase phase;
	size_t layer; /**< CONVERTING, WAITING: layer being merged (the topmost comes first) */
	size_t layer_count; /**< WAITING: 0 while the other import has not said */
	uint64_t tar_bytes; /**< uncompressed bytes merged so far */
	/** WAITING: the host of the import waited for ("" while it has not said: an import of an
	 *  older build, or one that has just begun). */
	const char *holder;
	uint64_t waited_ms; /**< WAITING: since the wait began */
} lc_import_progress;
typedef void (*lc_import_progress_fn)(void *userdata, const lc_import_progress *p);

typedef struct lc_import_opts {
	uint32_t version; /**< LC_IMPORT_OPTS_VERSION */
	uint32_t flags;   /**< LC_IMPORT_*; unknown bits -> -EINVAL */
	/** "zstd" (level 3), "zstd:LEVEL" (1..22) or "none"; NULL: "zstd". */
	const char *compression;
	/** mksquashfs-style options as in ENROOT_SQUASH_OPTIONS ("-comp zstd -Xcompression-level N
	 *  -b SIZE", "-noI -noD -noF -noX", "-all-root"); applied before the fields below. */
	const char *squash_options;
	uint32_t block_size;            /**< 0: 128 KiB; a power of two from 4 KiB to 1 MiB */
	unsigned threads;               /**< compression threads; 0: every core */
	lc_import_progress_fn progress; /**< phases and layers; NULL: none */
	void *progress_userdata;
	/** Version 2: a file whose size exceeds this many bytes is refused, naming the layer and
	 *  the entry, before its data is read (a sparse file claiming a petabyte would keep the
	 *  import busy for hours); 0: LC_IMPORT_MAX_FILE_SIZE. */
	uint64_t max_file_size;
} lc_import_opts;
/* Version 3: the caller understands LC_IMPORT_WAITING. */
#define LC_IMPORT_OPTS_VERSION 3
#define LC_IMPORT_MAX_FILE_SIZE (1ull << 40) /* 1 TiB */
#define LC_IMPORT_OPTS_INIT                                                \
	{                                                                  \
		LC_IMPORT_OPTS_VERSION, 0, NULL, NULL, 0, 0, NULL, NULL, 0 \
	}

/** What an import did (bytes and milliseconds). */
typedef struct lc_import_stats {
	uint64_t layer_bytes; /**< compressed layer bytes read */
	uint64_t tar_bytes;   /**< uncompressed tar bytes read */
	uint64_t image_bytes; /**< size of the squashfs file */
	uint64_t convert_ms;  /**< reading and merging layers (overlaps the downloads) */
	uint64_t finish_ms;   /**< remaining blocks, inode and directory tables */
} lc_import_stats;

/**
 * Turn the image of @pull into one squashfs file at @output: layers are read as they download
 * (the pull is started if it was not), merged top-down (whiteouts applied; shadowed files never
 * written) and written with zstd. The image config travels inside the file (see README). The
 * file appears at @output only when complete (temp file beside it, then rename); on failure no
 * output is left. @stats may be NULL.
 */
LC_API int lc_import(lc_pull *pull, const char *output, const lc_import_opts *opts,
		     lc_import_stats *ret_stats, lc_error *err);
/** enroot's default file name for @ref: "nvidia+pytorch+25.09-py3.sqsh". Caller frees. */
LC_API int lc_import_default_name(const char *ref, char **ret_name, lc_error *err);

/**
 * What an import helper answers on its stdout (ctr-import's contract with the Slurm plugin):
 * one "key=value" line per fact, messages on stderr. Keys: image_path (the squashfs file), digest
 * (the manifest's), cache ("hit", "miss" or "filled", with a node cache), offline (why the
 * registry was unreachable, when the digest seen last was used), and the numbers of
 * lc_import_stats plus resolve_ms and total_ms (0: not said). A first line that is an absolute
 * path alone is the image path (pyxis's importer protocol). Unknown keys are skipped.
 */
typedef struct lc_import_answer {
	char *image_path;
	char *digest;
	char *cache;
	char *offline;
	uint64_t resolve_ms, convert_ms, finish_ms, total_ms;
	uint64_t layer_bytes, tar_bytes, image_bytes;
} lc_import_answer;
/** The answer's lines (fields that are NULL or 0 are left out). Caller frees. -EINVAL for a
 *  value with a newline. */
LC_API int lc_import_answer_format(const lc_import_answer *a, char **ret_text, lc_error *err);
/** Parse a helper's stdout, one string per line (as lc_helper_run_split() gives it). */
LC_API int lc_import_answer_parse(const char *const *lines, lc_import_answer *ret, lc_error *err);
/** Free what the answer holds and zero it. NULL-safe. */
LC_API void lc_import_answer_clear(lc_import_answer *a);

/* ---------------------------------------------------------------- squashfs files */

/** One entry of a squashfs image, as lc_squash_list reports it (strings borrowed for the call). */
typedef struct lc_squash_entry {
	const char *path; /**< "/usr/bin/env"; "/" for the root */
	uint32_t mode;    /**< type and permission bits (S_IF*) */
	uint32_t uid, gid;
	uint64_t size; /**< regular files: bytes */
	int64_t mtime;
	uint32_t nlink;
	uint32_t inode;          /**< inode number: equal for hardlinks */
	const char *link_target; /**< symbolic links, else NULL */
	uint64_t rdev;           /**< devices (makedev form) */
} lc_squash_entry;

/** Called for every entry, parents before children; return non-zero to stop the walk. */
typedef int (*lc_squash_list_fn)(void *userdata, const lc_squash_entry *e);

/** Walk the squashfs file at @path (opened read-only; never mounted). */
LC_API int lc_squash_list(const char *path, lc_squash_list_fn fn, void *userdata, lc_error *err);

/**
 * Write the directory tree @dir into a squashfs file at @output (e.g. a container's rootfs).
 * Symbolic links are stored, never followed; hardlinks, xattrs, owners, devices are kept; other
 * filesystems mounted below @dir are not entered. Compression and block size as for lc_import;
 * the output appears only when complete. @opts may be NULL.
 */
LC_API int lc_squash_save(lc_ctx *ctx, const char *dir, const char *output,
			  const lc_import_opts *opts, lc_error *err);

/**
 * Unpack the squashfs file at @path into @dir, which must not exist yet (it is created) or be
 * empty.
 * Safe against hostile images: every name is checked, every entry is created relative to a
 * directory opened without following links, so nothing in the image can make a write land
 * outside @dir. As non-root, owners and device nodes that need privileges are skipped.
 */
LC_API int lc_squash_load(lc_ctx *ctx, const char *path, const char *dir, lc_error *err);

/**
 * The image (its description: lc_image) that the squashfs file at @path carries: ours (the root
 * directory's xattr "user.lc.image": reference, digests, os/architecture, Env, Entrypoint, Cmd,
 * WorkingDir, User, Labels) or, for files made by enroot, Env from /etc/environment, the reference
 * from /etc/rc's provenance line, and Entrypoint ["/etc/rc"] (enroot's start script, which applies
 * WorkingDir, Entrypoint and Cmd). A plain squashfs gives an image with nothing set. Layers are not
 * described (count 0).
 */
LC_API int lc_squash_image_config(const char *path, lc_image **ret_image, lc_error *err);

/* ---------------------------------------------------------------- site configuration */

/**
 * enroot's site configuration, read as enroot reads it, so that a pyxis+enroot site keeps its
 * files: from the site's directory (ENROOT_SYSCONF_PATH, /etc/enroot by default) enroot.conf and
 * enroot.conf.d/ *.conf (settings), then from it and from the user's (ENROOT_CONFIG_PATH,
 * ~/.config/enroot by default) environ.d/ *.env (variables), mounts.d/ *.fstab (mounts) and
 * hooks.d/ *.sh (programs run before the root switch). Read once, used by every container
 * created with it (lc_container_opts.site). Scripts and fstab files named like enroot's own
 * (10-shadow.sh, 50-slurm-pmi.sh, 10-system.fstab, ...) are not used: the library does what
 * they do (LC_SITE_RUN_STANDARD_HOOKS runs such hooks as scripts instead).
 */
typedef struct lc_site lc_site;
enum {
	/** Run hooks named like enroot's standard hooks and extras as scripts, instead of the
	 *  library's own version of them (for a site that patched them). */
	LC_SITE_RUN_STANDARD_HOOKS = 1u << 0,
	/** Read nothing from the user's ENROOT_CONFIG_PATH. */
	LC_SITE_NO_USER_CONFIG = 1u << 1,
	/** Read nothing from the site's directory (sysconf_path): the settings and @env alone. */
	LC_SITE_NO_SITE_CONFIG = 1u << 2,
	LC_SITE_ALL = (1u << 3) - 1,
};
typedef struct lc_site_opts {
	uint32_t version; /**< LC_SITE_OPTS_VERSION */
	uint32_t flags;   /**< LC_SITE_*; unknown bits -> -EINVAL */
	/** The site's directory; NULL: $ENROOT_SYSCONF_PATH of the calling process, else
	 *  /etc/enroot. A missing directory is an empty configuration. */
	const char *sysconf_path;
	/** The user's directory; NULL: ENROOT_CONFIG_PATH (the settings, then @env), else
	 *  $XDG_CONFIG_HOME/enroot or $HOME/.config/enroot from @env. Read as @uid. */
	const char *config_path;
	/** The environment the settings and files are expanded with ("K=V", e.g. a job's): its
	 *  non-empty ENROOT_* and other enroot keys beat the files, as enroot's caller's
	 *  environment does. NULL: empty. */
	const char *const *env;
	/** "KEY=VALUE" settings that beat the files and @env (a front-end's flags): "KEY=n" turns
	 *  a feature off. NULL: none. */
	const char *const *overrides;
	/** The user the configuration is for: the user's files are opened as this user, and
	 *  $(id -u)/$(id -g) give these. (uid_t)-1: the caller. */
	uid_t uid;
	gid_t gid;
	/** More mounts, in the syntax of a mounts.d file (fstab lines), after the site's and the
	 *  user's: a front-end's (enroot start --mount); errors name them "--mount". NULL: none.
	 *  (Version 2.) */
	const char *mounts;
	/** More hooks, programs run after the site's and the user's hooks.d ones, with their
	 *  contract (a front-end's: enroot start --conf's hooks()); NULL-terminated; NULL: none.
	 *  (Version 2.) */
	const char *const *hooks;
} lc_site_opts;
#define LC_SITE_OPTS_VERSION 2
#define LC_SITE_OPTS_INIT                                                                         \
	{                                                                                         \
		LC_SITE_OPTS_VERSION, 0, NULL, NULL, NULL, NULL, (uid_t)-1, (gid_t)-1, NULL, NULL \
	}
/**
 * Read the configuration. A bad line (an fstab line without a target, an unknown x- option, a
 * command substitution other than $(id -u) and $(id -g)) is an error naming its file and line;
 * a missing file or directory is not.
 */
LC_API int lc_site_load(lc_ctx *ctx, const lc_site_opts *opts, lc_site **ret_site, lc_error *err);
/** NULL-safe. */
LC_API lc_site *lc_site_free(lc_site *site);
/** A setting's value after every file, @env and the overrides; NULL when unset (or false). */
LC_API const char *lc_site_setting(const lc_site *site, const char *key);
/** The LC_CONTAINER_* features the settings turn on: ENROOT_ROOTFS_WRITABLE (RW),
 *  ENROOT_REMAP_ROOT, ENROOT_MOUNT_HOME, ENROOT_UNSHARE_NET/IPC/UTS, and HOST_DEV when
 *  ENROOT_RESTRICT_DEV is set to a false value (unset, /dev stays restricted). */
LC_API uint32_t lc_site_container_flags(const lc_site *site);
/** How many hooks a container created with @site runs (site and user scripts). */
LC_API size_t lc_site_hook_count(const lc_site *site);

/* ---------------------------------------------------------------- containers */

typedef struct lc_container lc_container;

enum {
	LC_CONTAINER_RW = 1u << 0, /**< writable rootfs (overlay on tmpfs), else read-only */
	LC_CONTAINER_REMAP_ROOT = 1u << 1, /**< the user is uid/gid 0 inside */
	LC_CONTAINER_MOUNT_HOME = 1u << 2, /**< bind the user's home directory */
	LC_CONTAINER_UNSHARE_NET = 1u << 3,
	LC_CONTAINER_UNSHARE_IPC = 1u << 4,
	LC_CONTAINER_UNSHARE_UTS = 1u << 5,
	/** /tmp is the caller's /tmp (e.g. a Slurm job's private one), not a new tmpfs */
	LC_CONTAINER_HOST_TMP = 1u << 6,
	/**
	 * A read-only container of a root caller may have the kernel's squashfs driver read the
	 * image when the image is trusted: the file and every directory above it are root's and
	 * writable by root only (an admin's image store or cache), not on FUSE. Otherwise, and
	 * when the kernel mount fails (logged as a warning), the FUSE server serves it.
	 */
	LC_CONTAINER_KERNEL_SQUASHFS = 1u << 7,
	/**
	 * With a named container's instance (lc_container_opts.named): the writable layer stays
	 * on the container's tmpfs and goes with it; the name only lets others join it (a Slurm
	 * step's unnamed container, joinable as JOBID.STEPID) and needs no image.sqsh.
	 */
	LC_CONTAINER_VOLATILE_UPPER = 1u << 8,
	/**
	 * /dev is the host's, bound whole (nosuid, noexec), as enroot does without
	 * ENROOT_RESTRICT_DEV; ignored with LC_CONTAINER_UNSHARE_IPC. Otherwise /dev is a new tmpfs
	 * with null, zero, full, random, urandom, tty, log, a new devpts, shm, mqueue and the
	 * host's accelerator and fabric nodes (GPUs, InfiniBand, gdrdrv, cxi, kfd, dri, hugepages).
	 */
	LC_CONTAINER_HOST_DEV = 1u << 9,
	/** A CDI spec's hook that is not done natively (NVIDIA's create-symlinks,
	 *  update-ldcache, enable-cuda-compat and disable-device-node-modification are) fails the
	 *  start instead of being skipped with a warning. (Version 6.) */
	LC_CONTAINER_REFUSE_CDI_HOOKS = 1u << 10,
	LC_CONTAINER_ALL = (1u << 11) - 1,
};

typedef struct lc_container_opts {
	uint32_t version;       /**< LC_CONTAINER_OPTS_VERSION */
	uint32_t flags;         /**< LC_CONTAINER_*; unknown bits -> -EINVAL */
	const char *image_path; /**< the squashfs file */
	/** User mounts, pyxis syntax: "SRC:DST[:FLAGS][,...]" (flags joined by '+'), SRC may be
	 *  "tmpfs" or "umount"; relative sources are taken from the current directory. */
	const char *mounts;
	const char *tmpfs_size; /**< size of the writable layer (tmpfs "size="); NULL: "50%" */
	/** The user the container is for; (uid_t)-1: the caller. A root caller drops to it. */
	uid_t uid;
	gid_t gid;
	/** Relative mount sources and a relative image path are taken from here; NULL: the
	 *  current directory. */
	const char *cwd;
	/** An fd the holder keeps open for the container's life, e.g. a lock on a cache entry
	 *  (lc_cache_use); -1: none. The caller may close its own copy. */
	int hold_fd;
	/** A named container (lc_named_open): its persistent writable layer replaces the tmpfs
	 *  one, and @image_path should be lc_named_image_path(). NULL: none. (Version 3.) */
	struct lc_named *named;
	/** With @named: NULL makes this container the name's instance, which lc_group_attach()
	 *  joins and which lives until every group that attached is done; else a separate
	 *  instance on the same writable layer (pyxis's "no_exec"), not joinable, whose overlay
	 *  work directory the caller removes after (lc_named_remove_instance). */
	const char *named_instance;
	/** enroot's site configuration (lc_site_load), borrowed for the call: its settings' flags
	 *  are added to @flags (a caller turns one off with an override), its variables join the
	 *  environment, its mounts and hooks run in the holder before the root switch. NULL:
	 *  none. (Version 4.) */
	const lc_site *site;
	/** Devices by their Container Device Interface names ("vendor.com/class=name"),
	 *  NULL-terminated; NULL: none. Each one's edits, and its spec's own, are applied at every
	 *  start: environment variables, device nodes (bound from the host, never created),
	 *  mounts (bound, targets inside the root). Hooks a spec names are never run (a warning
	 *  names each); additional group ids cannot be given in a single-id user namespace (a
	 *  warning). An unknown name, or a host file a spec names that is missing, fails the
	 *  start naming it. (Version 5.) */
	const char *const *devices;
	/** Where the CDI specs are: directories separated by ':', a later one winning on a name
	 *  clash; NULL: "/etc/cdi:/var/run/cdi". A root caller reads only root's specs in root's
	 *  directories. (Version 5.) */
	const char *cdi_spec_dirs;
	/** How NVIDIA_VISIBLE_DEVICES is served: NULL or "auto", the node's CDI spec for
	 *  nvidia.com/gpu when there is one, else nvidia-container-cli from the PATH (as enroot's
	 *  98-nvidia hook runs it, as the user in the container's namespaces); "cdi" or "cli"
	 *  alone; or the absolute path of nvidia-container-cli. (Version 6.) */
	const char *nvidia_backend;
} lc_container_opts;
#define LC_CONTAINER_OPTS_VERSION 6
#define LC_CONTAINER_OPTS_INIT                                                                  \
	{                                                                                       \
		LC_CONTAINER_OPTS_VERSION, 0, NULL, NULL, NULL, (uid_t)-1, (gid_t)-1, NULL, -1, \
		    NULL, NULL, NULL, NULL, NULL, NULL                                          \
	}

/** Check user mounts in the syntax of lc_container_opts.mounts; the error says what is wrong. */
LC_API int lc_mounts_check(const char *mounts, lc_error *err);

/**
 * Create a container from the squashfs file in @opts: a holder process (a child of the caller)
 * makes the namespaces and the mounts, serves the image over FUSE and keeps everything alive
 * until lc_container_free(). When it ends, for whatever reason, everything it made is gone:
 * all of it lives in its own namespaces. The caller must not reap the holder itself.
 */
LC_API int lc_container_create(lc_ctx *ctx, const lc_container_opts *opts,
			       lc_container **ret_container, lc_error *err);
/** Ask the holder to end and wait for it (SIGKILL after 2 s). NULL-safe. */
LC_API lc_container *lc_container_free(lc_container *c);
/** The holder's pid. */
LC_API pid_t lc_container_pid(const lc_container *c);
/** The image's config (env, entrypoint, cmd, workdir). Borrowed. */
LC_API const lc_image *lc_container_image(const lc_container *c);

enum {
	LC_PROCESS_ENTRYPOINT = 1u << 0, /**< run the image's Entrypoint before the command */
	LC_PROCESS_ALL = (1u << 1) - 1,
};

typedef struct lc_process_opts {
	uint32_t version; /**< LC_PROCESS_OPTS_VERSION */
	uint32_t flags;   /**< LC_PROCESS_*; unknown bits -> -EINVAL */
	/** Command; NULL or empty: the image's Cmd. */
	const char *const *argv;
	/** The whole environment; NULL: lc_container_env(c, NULL). */
	const char *const *env;
	/** Working directory inside; NULL: the image's WorkingDir, else "/". */
	const char *workdir;
} lc_process_opts;
#define LC_PROCESS_OPTS_VERSION 1
#define LC_PROCESS_OPTS_INIT                                 \
	{                                                    \
		LC_PROCESS_OPTS_VERSION, 0, NULL, NULL, NULL \
	}

/**
 * Start a process in the container: fork, join the holder's namespaces through its pidfd, chdir,
 * no_new_privs + the fake-chown seccomp filter, execve. Failures up to and including execve are
 * returned here with their message ("couldn't chdir to X", "X: command not found"...). The
 * child is the caller's to wait for.
 */
LC_API int lc_container_spawn(lc_container *c, const lc_process_opts *opts, pid_t *ret_pid,
			      lc_error *err);

/**
 * Move the calling process into the container that process @pid runs in (enroot exec PID):
 * @pid must be the caller's and live in other user and mount namespaces than the caller
 * ("process N is not in a container"; "process N not found"). Joins its user and mount
 * namespaces and those of its network, IPC, UTS and cgroup namespaces that differ from the
 * caller's, keeps the capabilities that gives in the container's user namespace (as
 * lc_group_enter() does), chdir to @workdir (NULL: "/"), no_new_privs and the fake-chown seccomp
 * filter. The caller then execve()s. Single-threaded callers only.
 */
LC_API int lc_container_enter_pid(pid_t pid, const char *workdir, lc_error *err);

/**
 * The default environment of a process: login variables (PATH, HOME, USER, LOGNAME, SHELL,
 * TERM), overridden by the image's Env, overridden by @overrides ("K=V", or "K" for the
 * caller's value of K when it is set). Free with lc_strv_free().
 */
LC_API int lc_container_env(const lc_container *c, const char *const *overrides, char ***ret_env,
			    lc_error *err);
LC_API void lc_strv_free(char **strv);

/* ---------------------------------------------------------------- named containers */

/**
 * A named container is a directory: the image (image.sqsh), the persistent writable layer of
 * the overlay (upper/, work/), a lock (.lock) and, while an instance runs, that instance's
 * socket (sock), through which later containers of the name join it (lc_group_attach). Never
 * an unpacked copy of the image: starting one costs what starting any container costs.
 */
typedef struct lc_named lc_named;

enum lc_named_state {
	LC_NAMED_ABSENT = 0,  /**< no image yet: it must be created */
	LC_NAMED_STOPPED = 1, /**< image and writes, no running instance */
	LC_NAMED_RUNNING = 2, /**< an instance runs; lc_named_state() holds its pidfd */
};

/**
 * Open the named container at @dir as user @uid/@gid ((uid_t)-1: the caller), making the
 * directory (mode 0700) when missing, and lock it exclusively: this waits while another
 * process holds it, e.g. creates the same name. The directory must be the user's and
 * writable by the user only. Unlocked by lc_named_free().
 */
LC_API int lc_named_open(const char *dir, uid_t uid, gid_t gid, lc_named **ret_named,
			 lc_error *err);
/** Closes and unlocks. NULL-safe. */
LC_API lc_named *lc_named_free(lc_named *n);
/**
 * What is there: absent, stopped, or running. For a running one, the instance's pidfd is taken
 * through its socket now (its peer must be the user's process, and the pidfd its own), with
 * the image it serves, so it cannot go away before lc_group_attach(). A directory without an
 * image is running when an instance with LC_CONTAINER_VOLATILE_UPPER serves it, else absent.
 */
LC_API int lc_named_state(lc_named *n, lc_error *err);
/** The namespaces of the running instance (CLONE_NEW* flags); 0 unless running. */
LC_API int lc_named_ns_flags(const lc_named *n);
/** The path of its squashfs file ("<dir>/image.sqsh"). Borrowed. */
LC_API const char *lc_named_image_path(const lc_named *n);
/** Remove what a failed or older creation left (image, writes), keeping the lock. */
LC_API int lc_named_reset(lc_named *n, lc_error *err);
/** Copy the squashfs file @src (opened as the user; relative: from @cwd, NULL: the current
 *  directory) to be the image, atomically. */
LC_API int lc_named_copy_image(lc_named *n, const char *src, const char *cwd, lc_error *err);
/** The name @name under @dir_fd (AT_FDCWD: a path) holds nothing but what an instance with
 *  LC_CONTAINER_VOLATILE_UPPER makes (its lock and socket): no image, no writable layer. False
 *  when it cannot be read. Opened without following a link. */
LC_API bool lc_named_is_volatile_at(int dir_fd, const char *name);
/** @name under @dir_fd (AT_FDCWD: a path) is a named container's directory (what
 *  lc_named_open() made there: its lock), not some other directory. Opened without following a
 *  link; reads nothing of the user's. */
LC_API bool lc_named_exists_at(int dir_fd, const char *name);
/** Without opening or locking the name (a list must not wait for a creation, which holds the
 *  lock for as long as an import takes): the pid of the holder of the running instance of the
 *  named container at @dir, the caller's (its namespaces are the container's), checked as
 *  lc_named_state() checks it; 0 when none runs; < 0 on error. */
LC_API pid_t lc_named_peek(const char *dir, lc_error *err);
/** Remove the name altogether (a failed creation leaves nothing); those waiting for its lock
 *  then find it absent. */
LC_API int lc_named_remove(lc_named *n, lc_error *err);
/** Remove what the separate instance @instance (lc_container_opts.named_instance) left in
 *  the named container at @dir: its overlay work directory. Root removes there without
 *  following a link. Nothing there is not an error. */
LC_API int lc_named_remove_instance(const char *dir, const char *instance, lc_error *err);

/* ---------------------------------------------------------------- one container, many processes */

/**
 * A group: one container shared by sibling processes forked from one parent, e.g. the tasks
 * of a Slurm job step on a node. The parent makes the group before it forks; in each child,
 * lc_group_lock() elects the one that creates the container (under a process-shared robust
 * lock: a creator that dies mid-setup is reported to the others, never waited on); the others
 * receive the holder's pidfd from it, so every process joins the namespaces pinned at
 * creation. The holder outlives its creator and ends when the parent frees the group (or
 * dies): nothing stays on the host.
 */
typedef struct lc_group lc_group;

/** In the parent, before forking: shared state, the pidfd channel and the holder's lifeline. */
LC_API int lc_group_new(lc_group **ret_group, lc_error *err);
/** Unmap and close. In the parent, this ends the holder. NULL-safe. */
LC_API lc_group *lc_group_free(lc_group *g);
/**
 * In the parent, once every process of the group is done: hang up the holder's lifeline and,
 * when this group created the container (not when it joined another's), wait until its holder
 * has ended, which is when every group that joined the container is done too. For callers
 * whose process tracking kills what a group leaves behind (Slurm's proctrack/cgroup kills the
 * holder with its step): the step that created a container ends after the steps that joined it.
 * NULL-safe.
 */
LC_API int lc_group_release(lc_group *g, lc_error *err);

/**
 * In a child: returns 1 when the caller must create the container (it then holds the lock
 * until lc_group_create() or lc_group_fail()), 0 when another process created it (the caller
 * may now lc_group_enter()), < 0 when the creator failed or died ("container was not started
 * successfully by another task: ...", "a previous task terminated unexpectedly during
 * container setup").
 */
LC_API int lc_group_lock(lc_group *g, lc_error *err);
/** How lc_group_create() prepares the processes' common start. */
enum {
	/** Run the image's Entrypoint once (lc_group_create); the same bit as LC_PROCESS_ENTRYPOINT
	 */
	LC_GROUP_ENTRYPOINT = 1u << 0,
	LC_GROUP_ALL = (1u << 1) - 1,
};
typedef struct lc_group_opts {
	uint32_t version; /**< LC_GROUP_OPTS_VERSION */
	uint32_t flags;   /**< LC_GROUP_*; unknown bits -> -EINVAL */
	/** The container's environment: see lc_container_env(). */
	const char *const *env_overrides;
} lc_group_opts;
#define LC_GROUP_OPTS_VERSION 1
#define LC_GROUP_OPTS_INIT                     \
	{                                      \
		LC_GROUP_OPTS_VERSION, 0, NULL \
	}

/**
 * The creator: create the container for the group (see lc_container_create), record its
 * environment (lc_container_env with the overrides) and working directory (the image's), hand
 * the holder's pidfd on and release the lock. On failure the others are told too.
 *
 * With LC_GROUP_ENTRYPOINT and an image that has one, the Entrypoint runs once, as enroot
 * runs it (with /bin/sh in the image): in front of a command that it must run (`exec "$@"`),
 * whose environment and working directory become the group's. Its output (stdout and stderr)
 * goes to *@ret_log as lines, also when it fails (NULL when it did not run; may be NULL).
 * Errors: "container start failed with error code: N", "container exited too soon".
 */
LC_API int lc_group_create(lc_ctx *ctx, lc_group *g, const lc_container_opts *opts,
			   const lc_group_opts *group_opts, char ***ret_log, lc_error *err);
/**
 * The creator, instead of lc_group_create(): join the running instance of @named
 * (lc_named_state() said LC_NAMED_RUNNING). Its holder lives until this group is done too.
 * The environment and working directory come from the image and @group_opts, as for a new
 * container; the entrypoint does not run again, and @opts's mounts and flags are not applied
 * (uid, gid and cwd are used; lc_named_ns_flags() tells which namespaces it has).
 */
LC_API int lc_group_attach(lc_ctx *ctx, lc_group *g, lc_named *named, const lc_container_opts *opts,
			   const lc_group_opts *group_opts, lc_error *err);
/** The creator gave up before lc_group_create() (e.g. the import failed): tell the others. */
LC_API void lc_group_fail(lc_group *g, const lc_error *why);
/**
 * Move the calling process into the container: join its namespaces through the pidfd (the
 * caller is the container's user, single-threaded), chdir to @workdir (NULL: the image's
 * WorkingDir, else "/"), no_new_privs and the fake-chown seccomp filter. The caller then
 * execve()s its command, e.g. Slurm does. Messages: "couldn't chdir to X: ...".
 */
LC_API int lc_group_enter(lc_group *g, const char *workdir, lc_error *err);
/** The container's environment recorded by the creator. Free with lc_strv_free(). */
LC_API int lc_group_env(const lc_group *g, char ***ret_env, lc_error *err);

/**
 * The container's holder, for the group's parent (e.g. slurmstepd, to end the tasks when their
 * container's holder, which also serves its files, died): 1 and *@ret_pidfd a pidfd of it (the
 * caller's; poll it) once a process created or joined the container; 0 and -1 while none has
 * yet (or one is creating it); -ECHILD when none will (the creation failed). Never blocks.
 */
LC_API int lc_group_holder(lc_group *g, int *ret_pidfd, lc_error *err);
/** How many processes have entered the group's container (lc_group_enter succeeded). */
LC_API unsigned lc_group_entered(const lc_group *g);

/** How lc_group_save() writes the container's filesystem. */
enum { LC_SAVE_ALL = 0 /**< no flag yet */ };
typedef struct lc_save_opts {
	uint32_t version; /**< LC_SAVE_OPTS_VERSION */
	uint32_t flags;   /**< LC_SAVE_* (none yet); unknown bits -> -EINVAL */
	/** Compression, ENROOT_SQUASH_OPTIONS, LC_IMPORT_ALL_ROOT, LC_IMPORT_FORCE (replace an
	 *  existing file); NULL: the defaults (an existing file is kept, and the save fails). */
	const lc_import_opts *squash;
	/** Who writes the file: a root caller becomes this user first; (uid_t)-1: the caller. */
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /**< supplementary groups (set when the caller is root) */
	size_t n_groups;
	/** A relative output path is taken from here; NULL: the current directory. */
	const char *cwd;
} lc_save_opts;
#define LC_SAVE_OPTS_VERSION 1
#define LC_SAVE_OPTS_INIT                                                          \
	{                                                                          \
		LC_SAVE_OPTS_VERSION, 0, NULL, (uid_t)-1, (gid_t)-1, NULL, 0, NULL \
	}

/**
 * In the parent, once the processes are done: write the container's root filesystem (the image
 * with every write made in it, without the mounts on top of it) to the squashfs file @output,
 * with the image's config, so that the file starts like the image did (enroot export). A child
 * process becomes the user, opens the output's directory on the host, joins the container's
 * user and mount namespaces and saves; the file appears only when complete. Errors: "target is
 * a directory", "'X' already exists", and those of lc_squash_save().
 */
LC_API int lc_group_save(lc_ctx *ctx, lc_group *g, const char *output, const lc_save_opts *opts,
			 lc_error *err);

/* ---------------------------------------------------------------- node image cache */

/**
 * The node cache of imported images, per user (pyxis's --container-cache). A user's directory
 * (BASE/<uid>, the user's, 0700) holds an entry per image and user, named by the registry,
 * repository and manifest digest (the cache module owns the names), with the image file and
 * its lock. Entries appear atomically (a synced temporary directory renamed), and concurrent
 * fills of one entry import once. Fills run as the user (the helper); use and GC are the
 * caller's.
 */
/** *@ret_path: the image file of @img's entry (@img: a resolved image, lc_pull_image()) in
 *  @user_dir for @uid, or NULL when there is none. */
LC_API int lc_cache_lookup(const char *user_dir, const lc_image *img, uid_t uid, char **ret_path,
			   lc_error *err);
/**
 * Import @pull into its image's entry of @user_dir for @uid unless it is there (waiting for
 * another fill of the same entry first, and telling @io's progress what that fill last said of
 * itself: LC_IMPORT_WAITING); *@ret_path: the entry's image file. @ret_stats (may be NULL) is
 * zeroed, then filled when this call imported.
 */
LC_API int lc_cache_fill(lc_pull *pull, const char *user_dir, uid_t uid, const lc_import_opts *io,
			 lc_import_stats *ret_stats, char **ret_path, lc_error *err);
/** Record that @reference (as the user wrote it) last resolved to @img's entry for @uid (for
 *  lc_cache_recall()). */
LC_API int lc_cache_remember(const char *user_dir, const char *reference, const lc_image *img,
			     uid_t uid, lc_error *err);
/**
 * The entry @reference resolved to when last seen, if it is still there (*@ret_path NULL
 * otherwise): for starting without the registry when it is unreachable.
 */
LC_API int lc_cache_recall(const char *user_dir, const char *reference, char **ret_path,
			   lc_error *err);
/**
 * Use an entry: as @uid/@gid (a root caller never follows the user's links as root), lock the
 * entry of @image_path shared and touch it (its mtime is its last use). -ENOENT when it was
 * evicted meanwhile. The caller keeps *@ret_lock_fd open while the entry is in use.
 */
LC_API int lc_cache_use(const char *image_path, uid_t uid, gid_t gid, int *ret_lock_fd,
			lc_error *err);

/**
 * Mark the entry of @image_path (as lc_cache_use() takes it; the entry must be one of @uid's)
 * in use by job @jobid until
 * lc_cache_job_done(@jobid), so the GC keeps it between the job's steps too (a step's lock from
 * lc_cache_use() lasts only as long as the step). Root only: the marks are root's, under
 * @base/.jobs/<boot_id>/<jobid>/; marks of an earlier boot are stale and the GC removes them.
 */
LC_API int lc_cache_job_hold(const char *base, uint32_t jobid, const char *image_path, uid_t uid,
			     lc_error *err);
/** The job ended (its epilog): its marks go. Nothing marked is not an error. */
LC_API int lc_cache_job_done(const char *base, uint32_t jobid, lc_error *err);

/** What lc_cache_gc() did. */
typedef struct lc_cache_gc_result {
	bool ran;                         /**< the filesystem was at or above the high watermark */
	bool concurrent;                  /**< another GC was running: this one did nothing */
	unsigned used_before, used_after; /**< percent of the cache's filesystem in use */
	size_t evicted;                   /**< entries removed */
	size_t busy;          /**< entries skipped because a job uses them (a lock or a mark) */
	size_t stale_fills;   /**< leftovers of fills that died, removed */
	size_t stale_records; /**< fill locks and reference records of entries not there, removed */
} lc_cache_gc_result;

/**
 * Garbage-collect the node cache under @base (BASE/<uid>/...): when its filesystem is at least
 * @high percent full, remove entries of every user, least recently used first, until it is
 * under @low percent; entries in use (their lock held, or marked by a running job) are skipped;
 * dead fills, and fill locks and reference records of entries not there, are removed. One GC
 * at a time (a second returns at once with ->concurrent). A root caller's GC runs in a child as
 * nobody with only CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER.
 */
LC_API int lc_cache_gc(const char *base, unsigned high, unsigned low,
		       lc_cache_gc_result *ret_result, lc_error *err);

/* ---------------------------------------------------------------- helper processes */

/** How lc_helper_run() starts a program. */
enum { LC_HELPER_ALL = 0 /**< no flag yet */ };
typedef struct lc_helper_opts {
	uint32_t version;        /**< LC_HELPER_OPTS_VERSION */
	uint32_t flags;          /**< LC_HELPER_* (none yet); unknown bits -> -EINVAL */
	const char *path;        /**< absolute path, no PATH search */
	const char *const *argv; /**< argv[0] included */
	const char *const *env;  /**< the whole environment */
	uid_t uid;               /**< (uid_t)-1: keep the caller's ids */
	gid_t gid;
	const gid_t *groups; /**< supplementary groups (set when the caller is root) */
	size_t n_groups;
	/** Version 2: with @on_progress, the helper's fd LC_HELPER_PROGRESS_FD is a pipe whose
	 *  lines reach @on_progress while the helper runs (control characters made '?', lines cut
	 *  at 255 bytes); tell the helper so in argv. */
	void (*on_progress)(void *userdata, const char *line);
	void *progress_userdata;
} lc_helper_opts;
#define LC_HELPER_OPTS_VERSION 2
#define LC_HELPER_PROGRESS_FD 3
#define LC_HELPER_OPTS_INIT                                                                       \
	{                                                                                         \
		LC_HELPER_OPTS_VERSION, 0, NULL, NULL, NULL, (uid_t)-1, (gid_t)-1, NULL, 0, NULL, \
		    NULL                                                                          \
	}

/**
 * Run a helper and wait for it, the way a root daemon must start long work: fork, then in the
 * child oom_score_adj 0, stdin /dev/null, stdout and stderr into a log, every other fd
 * closed, the user's groups, gid and uid, execve. While waiting, SIGTERM and SIGINT sent to the
 * caller are forwarded to the helper (scancel during an import stops it). *@ret_status gets the
 * wait status; *@ret_log the helper's output, one string per line (free with lc_strv_free()).
 * Returns < 0 only when the helper could not be run or waited for.
 */
LC_API int lc_helper_run(const lc_helper_opts *opts, int *ret_status, char ***ret_log,
			 lc_error *err);
/**
 * lc_helper_run() with the helper's stdout kept apart: *@ret_stdout gets its lines, *@ret_log
 * only its stderr (e.g. a program that prints a result on stdout and logs on stderr). With
 * @ret_stdout NULL, this is lc_helper_run().
 */
LC_API int lc_helper_run_split(const lc_helper_opts *opts, int *ret_status, char ***ret_stdout,
			       char ***ret_log, lc_error *err);

#ifdef __cplusplus
}
#endif
#endif
