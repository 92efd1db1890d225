/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images a local daemon saves (`docker save`, `podman save --format docker-archive`: enroot's
 * dockerd:// and podman://). The archive is read once, as a stream: each member goes to a file
 * of a work directory while it is hashed. Its manifest.json names the config and the layers;
 * the pull then sees a registry (a transport that answers from those files: a manifest made from
 * the config's and the layers' digests, and the blobs), so the blob cache, the import and its
 * checks (digests, diff_ids) run as for any registry image, and the same image always gets the
 * same manifest digest.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../registry/registry.h"
#include "../util/util.h"

#define MEMBERS_MAX 4096
#define JSON_MAX (1u << 20)
#define MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_CONFIG "application/vnd.docker.container.image.v1+json"

typedef struct member {
	char *name;   /* as in the archive, without "./" */
	char *target; /* a link: the member it names (resolved at the end); NULL otherwise */
	char digest[72];
	uint64_t size;
	unsigned file; /* its file in the work directory: "m<file>" */
} member;

typedef struct blob {
	char digest[72];
	const char *media_type;
	uint64_t size;
	unsigned file;
} blob;

typedef struct archive_transport {
	lc_transport base;
	int dir;    /* the work directory */
	char *path; /* its path, removed with the transport */
	char *manifest;
	blob *blobs; /* the config first, then the layers */
	size_t n_blobs;
} archive_transport;

/* ---------------------------------------------------------------- reading the archive */

/* "./a/b" -> "a/b"; NULL for names that are not plain relative paths. */
static char *member_name(const char *raw)
{
	while (raw[0] == '.' && raw[1] == '/')
		raw += 2;
	if (!*raw || raw[0] == '/' || strlen(raw) > 512 || strstr(raw, "/../") ||
	    !strncmp(raw, "../", 3))
		return NULL;
	return strdup(raw);
}

/* A symbolic link's target, relative to the link's directory, as a member name. */
static char *link_target(const char *name, const char *target)
{
	const char *slash = strrchr(name, '/');
	char *joined = NULL, *out;

	if (target[0] == '/')
		return NULL;
	if (asprintf(&joined, "%.*s%s", slash ? (int)(slash - name + 1) : 0, name, target) < 0)
		return NULL;
	/* fold "dir/../x" once per "..": docker's links are "../<id>/layer.tar" */
	for (char *dots; (dots = strstr(joined, "/../"));) {
		char *start = dots;

		while (start > joined && start[-1] != '/')
			start--;
		memmove(start, dots + 4, strlen(dots + 4) + 1);
	}
	out = member_name(joined);
	free(joined);
	return out;
}

/* The file of member number @file in the work directory @dir: "m<file>", never a link. */
static int open_member(int dir, unsigned file, int flags)
{
	char name[16];

	snprintf(name, sizeof(name), "m%u", file);
	return openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* Copy the entry's data into its file of @dir, hashing it. */
static int store_member(struct archive *a, int dir, member *m, lc_error *err)
{
	_cleanup_close_ int fd = open_member(dir, m->file, O_WRONLY | O_CREAT | O_EXCL);
	_cleanup_(lc_sha256_freep) lc_sha256 *h = lc_sha256_new();
	char buf[1 << 16];
	la_ssize_t n;

	if (fd < 0 || !h)
		return lc_fail(err, fd < 0 ? errno : ENOMEM, "image archive: cannot store %s: %m",
			       m->name);
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		lc_sha256_update(h, buf, (size_t)n);
		if (lc_write_all(fd, buf, (size_t)n) < 0)
			return lc_fail(err, errno, "image archive: cannot store %s: %m", m->name);
		m->size += (uint64_t)n;
	}
	if (n < 0)
		return lc_fail(err, LC_EMANIFEST, "image archive: %s: %s", m->name,
			       archive_error_string(a));
	lc_sha256_final_digest(h, m->digest);
	return 0;
}

/* One entry: a regular file is stored, a symbolic link remembered, anything else skipped. */
static int read_entry(struct archive *a, struct archive_entry *e, int dir, unsigned file, member *m,
		      lc_error *err)
{
	mode_t type = archive_entry_filetype(e);

	*m = (member){.name = member_name(archive_entry_pathname(e)), .file = file};
	if (!m->name)
		return lc_fail(err, LC_EMANIFEST, "image archive: a member named '%s'",
			       archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
	if (type == AE_IFLNK) {
		const char *t = archive_entry_symlink(e);

		m->target = t ? link_target(m->name, t) : NULL;
		return m->target ? 1
				 : lc_fail(err, LC_EMANIFEST,
					   "image archive: %s links outside the archive", m->name);
	}
	if (type != AE_IFREG)
		return 0;
	int r = store_member(a, dir, m, err);

	return r < 0 ? r : 1;
}

static void members_free(member *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].target);
	}
	free(v);
}

/* Every member of the tar stream @fd into @dir. */
static int read_members(int fd, int dir, member **ret, size_t *ret_n, lc_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	member *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0, ar;

	if (!a || archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_gnutar(a) != ARCHIVE_OK ||
	    archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK)
		r = lc_fail(err, LC_EMANIFEST, "image archive: %s",
			    a ? archive_error_string(a) : "out of memory");
	while (r >= 0 && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		member m;

		if (n == MEMBERS_MAX || lc_array_reserve(&v, &cap, n + 1, sizeof(*v), 16) < 0) {
			r = lc_fail(err, n == MEMBERS_MAX ? LC_EMANIFEST : ENOMEM,
				    "image archive: more than %u members", MEMBERS_MAX);
			break;
		}
		r = read_entry(a, e, dir, (unsigned)n, &m, err);
		if (r > 0)
			v[n++] = m;
		else {
			free(m.name);
			free(m.target);
		}
	}
	if (r >= 0 && ar != ARCHIVE_EOF)
		r = lc_fail(err, LC_EMANIFEST, "image archive: %s",
			    archive_error_string(a) ? archive_error_string(a) : "not a tar stream");
	if (a)
		archive_read_free(a);
	if (r < 0) {
		members_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* The stored member @name (through one link at most). */
static const member *find_member(const member *v, size_t n, const char *name)
{
	for (int hops = 0; name && hops < 2; hops++) {
		const member *m = NULL;

		for (size_t i = 0; i < n && !m; i++)
			if (!strcmp(v[i].name, name))
				m = &v[i];
		if (!m || !m->target)
			return m;
		name = m->target;
	}
	return NULL;
}

/* ---------------------------------------------------------------- the manifest */

/* The compression a layer file has, by its first bytes. */
static const char *layer_media_type(int dir, unsigned file)
{
	static const unsigned char gz[] = {0x1f, 0x8b}, zs[] = {0x28, 0xb5, 0x2f, 0xfd};
	unsigned char head[4] = {0};
	_cleanup_close_ int fd = open_member(dir, file, O_RDONLY);

	if (fd >= 0 && read(fd, head, sizeof(head)) < 0)
		head[0] = 0;
	if (!memcmp(head, gz, 2))
		return "application/vnd.docker.image.rootfs.diff.tar.gzip";
	if (!memcmp(head, zs, 4))
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	return "application/vnd.docker.image.rootfs.diff.tar";
}

/* The entry of manifest.json: the only one, else the one whose RepoTags hold @tag. */
static json_t *pick_entry(json_t *list, const char *tag)
{
	json_t *entry, *t;
	size_t i, j;

	if (json_array_size(list) == 1)
		return json_array_get(list, 0);
	json_array_foreach(list, i, entry)
	{
		json_array_foreach(json_object_get(entry, "RepoTags"), j, t)
		{
			if (tag && json_string_value(t) && !strcmp(json_string_value(t), tag))
				return entry;
		}
	}
	return NULL;
}

static void add_blob(archive_transport *t, const member *m, const char *media_type)
{
	blob *b = &t->blobs[t->n_blobs++];

	memcpy(b->digest, m->digest, sizeof(b->digest));
	b->media_type = media_type;
	b->size = m->size;
	b->file = m->file;
}

static json_t *descriptor(const blob *b)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", b->media_type, "digest", b->digest, "size",
			 (json_int_t)b->size);
}

/* The registry manifest of the entry @tag of manifest.json: the config and the layers. */
static int make_manifest(archive_transport *t, const member *v, size_t n, const char *tag,
			 lc_error *err)
{
	const member *mf = find_member(v, n, "manifest.json"), *m;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_(json_decrefp) json_t *list = NULL, *out = NULL;
	json_t *entry, *layers, *l;
	size_t len, i;

	if (!mf)
		return lc_fail(err, LC_EMANIFEST,
			       "image archive: no manifest.json (not a "
			       "docker-archive)");
	fd = open_member(t->dir, mf->file, O_RDONLY);
	if (fd < 0 || lc_fd_read_all(fd, "manifest.json", JSON_MAX, &text, &len, err) < 0)
		return fd < 0 ? lc_fail(err, errno, "image archive: manifest.json: %m")
			      : -LC_EMANIFEST;
	list = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	entry = pick_entry(list, tag);
	layers = json_object_get(entry, "Layers");
	m = find_member(v, n, json_string_value(json_object_get(entry, "Config")));
	if (!json_is_array(list) || !entry)
		return lc_fail(err, LC_EMANIFEST, "image archive: manifest.json names %s",
			       json_is_array(list) ? "other images" : "nothing");
	if (!m || !json_is_array(layers))
		return lc_fail(err, LC_EMANIFEST,
			       "image archive: its config or layers are missing");
	t->blobs = calloc(json_array_size(layers) + 1, sizeof(*t->blobs));
	if (!t->blobs)
		return lc_fail(err, ENOMEM, "out of memory");
	add_blob(t, m, MT_CONFIG);
	out = json_pack("{s:i, s:s, s:o, s:[]}", "schemaVersion", 2, "mediaType", MT_MANIFEST,
			"config", descriptor(&t->blobs[0]), "layers");
	json_array_foreach(layers, i, l)
	{
		m = find_member(v, n, json_string_value(l));
		if (!m)
			return lc_fail(err, LC_EMANIFEST, "image archive: layer %s is missing",
				       json_string_value(l) ? json_string_value(l)
							    : "(not a name)");
		add_blob(t, m, layer_media_type(t->dir, m->file));
		json_array_append_new(json_object_get(out, "layers"),
				      descriptor(&t->blobs[t->n_blobs - 1]));
	}
	t->manifest = out ? json_dumps(out, JSON_COMPACT) : NULL;
	return t->manifest ? 0 : lc_fail(err, ENOMEM, "out of memory");
}

/* ---------------------------------------------------------------- the transport */

static void answer_status(lc_http_req *req, int status, const char *type, uint64_t len)
{
	char line[160];

	snprintf(line, sizeof(line), "HTTP/1.1 %d -\r\n", status);
	lc_http_req_header_line(req, line, strlen(line));
	if (type) {
		snprintf(line, sizeof(line), "Content-Type: %s\r\n", type);
		lc_http_req_header_line(req, line, strlen(line));
	}
	snprintf(line, sizeof(line), "Content-Length: %llu\r\n", (unsigned long long)len);
	lc_http_req_header_line(req, line, strlen(line));
}

/* A blob from its file, from req->range_from on. */
static void answer_blob(archive_transport *t, lc_http_req *req, const blob *b)
{
	char buf[1 << 16];
	uint64_t from = req->range_from < b->size ? req->range_from : 0;
	_cleanup_close_ int fd = open_member(t->dir, b->file, O_RDONLY);
	ssize_t n;

	if (fd < 0 || lseek(fd, (off_t)from, SEEK_SET) < 0) {
		answer_status(req, 500, NULL, 0);
		return;
	}
	answer_status(req, from ? 206 : 200, "application/octet-stream", b->size - from);
	if (from) {
		char range[96];

		snprintf(range, sizeof(range), "Content-Range: bytes %llu-%llu/%llu\r\n",
			 (unsigned long long)from, (unsigned long long)(b->size - 1),
			 (unsigned long long)b->size);
		lc_http_req_header_line(req, range, strlen(range));
	}
	while (!req->head && (n = read(fd, buf, sizeof(buf))) > 0)
		if (lc_http_req_body(req, buf, (size_t)n) < 0)
			return;
}

static void answer(archive_transport *t, lc_http_req *req)
{
	const char *blobs = strstr(req->url, "/blobs/");

	if (strstr(req->url, "/manifests/")) {
		answer_status(req, 200, MT_MANIFEST, strlen(t->manifest));
		if (!req->head)
			lc_http_req_body(req, t->manifest, strlen(t->manifest));
		return;
	}
	for (size_t i = 0; blobs && i < t->n_blobs; i++)
		if (!strcmp(blobs + strlen("/blobs/"), t->blobs[i].digest)) {
			answer_blob(t, req, &t->blobs[i]);
			return;
		}
	answer_status(req, blobs ? 404 : 200, "application/json", 2);
	if (!req->head)
		lc_http_req_body(req, "{}", 2);
}

static void serve(void *userdata, lc_http_req *req)
{
	answer(userdata, req);
}

static int transport_run(lc_transport *base, lc_http_queue *q, unsigned max_parallel, lc_error *err)
{
	(void)max_parallel, (void)err;
	lc_http_queue_serve(q, serve, base);
	return 0;
}

static void transport_free(lc_transport *base)
{
	archive_transport *t = (archive_transport *)base;

	if (t->dir >= 0 && t->path)
		(void)lc_rm_rf_at(AT_FDCWD, t->path);
	lc_closep(&t->dir);
	free(t->path);
	free(t->manifest);
	free(t->blobs);
	free(t);
}

/* The work directory: a new one under @under. */
static int work_dir(archive_transport *t, const char *under, lc_error *err)
{
	int r = lc_mkdir_p(under, 0700, err);

	if (r < 0)
		return r;
	if (asprintf(&t->path, "%s/.archive.XXXXXX", under) < 0 || !mkdtemp(t->path)) {
		free(t->path);
		t->path = NULL;
		return lc_fail(err, errno ? errno : ENOMEM, "cannot make a directory in %s: %m",
			       under);
	}
	t->dir = open(t->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return t->dir < 0 ? lc_fail(err, errno, "open %s: %m", t->path) : 0;
}

LC_API int lc_pull_new_archive(lc_ctx *ctx, int fd, const char *ref, const char *tag,
			       const lc_pull_opts *opts, lc_pull **ret_pull, lc_error *err)
{
	lc_error local = LC_ERROR_INIT;
	archive_transport *t = calloc(1, sizeof(*t));
	_cleanup_free_ char *cache = NULL;
	member *v = NULL;
	size_t n = 0;
	int r;

	if (!err)
		err = &local;
	if (!t)
		return lc_fail(err, ENOMEM, "out of memory");
	*t = (archive_transport){.base = {transport_run, transport_free}, .dir = -1};
	if (!ctx || fd < 0 || !ref || !ret_pull)
		r = lc_fail(err, EINVAL, "lc_pull_new_archive: bad argument");
	else if (opts && opts->cache_dir)
		r = (cache = strdup(opts->cache_dir)) ? 0 : lc_fail(err, ENOMEM, "out of memory");
	else
		r = lc_pull_default_cache_dir(&cache, err);
	if (r >= 0)
		r = work_dir(t, cache, err);
	if (r >= 0)
		r = read_members(fd, t->dir, &v, &n, err);
	if (r >= 0)
		r = make_manifest(t, v, n, tag, err);
	members_free(v, n);
	if (r < 0) {
		transport_free(&t->base);
		return r;
	}
	return lc_pull_new_transport(ctx, ref, opts, &t->base, ret_pull, err);
}
