/* SPDX-License-Identifier: Apache-2.0 */
/*
 * glibc's library cache (/etc/ld.so.cache), read and written natively: the image's cache with
 * the host driver's libraries added in front is what the host's ldconfig would write for the
 * container, without reading every library of the image (through FUSE, cold: tens of ms).
 *
 * The format (glibc elf/cache.c, sysdeps/generic/dl-cache.h): "glibc-ld.so.cache" "1.1", a
 * header of 48 bytes, then entries of 24 bytes {int32 flags; uint32 key, value (offsets of
 * NUL-terminated strings from the header); uint32 osversion; uint64 hwcap}, then the strings.
 * glibc before 2.32 wrote the "compat" form: an old-format table ("ld.so-1.7.0") first, the new
 * header after it, aligned. ld.so binary-searches the entries sorted by _dl_cache_libcmp,
 * greatest first, and takes the first of equal names whose flags fit: an earlier entry wins.
 * Entries of glibc-hwcaps subdirectories (hwcap bit 62, naming strings of the extension) are
 * not handled here: such a cache is -ENOTSUP and the caller runs ldconfig.
 */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

#define MAGIC_OLD "ld.so-1.7.0"
#define MAGIC_NEW "glibc-ld.so.cache1.1"
#define HEADER_NEW 48
#define ENTRY_NEW 24
#define ENTRY_OLD 12
#define HWCAP_EXTENSION (1ull << 62)
#define ENDIAN_CURRENT (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 2 : 3)
#define ENDIAN_MASK 3

/* the alignment of the new header after an old table: ld.so's ALIGN_CACHE */
struct new_entry_shape {
	int32_t flags;
	uint32_t key, value, osversion;
	uint64_t hwcap;
};
#define ALIGN_NEW _Alignof(struct new_entry_shape)

typedef struct entry {
	int32_t flags;
	uint64_t hwcap;
	const char *key, *value;
	unsigned rank; /* added ones first, in their order, then the image's in its order */
} entry;

struct lc_ldcache {
	char *data; /* the image's cache: its entries' strings */
	entry *v;
	size_t n, cap;
	unsigned added;
	lc_strvec strings; /* the added entries' */
};

/* ---------------------------------------------------------------- order */

/* glibc's _dl_cache_libcmp: digit runs compare as numbers, a digit above anything else. */
static int libcmp(const char *p1, const char *p2)
{
	while (*p1) {
		if (*p1 >= '0' && *p1 <= '9') {
			unsigned long v1 = 0, v2 = 0;

			if (*p2 < '0' || *p2 > '9')
				return 1;
			while (*p1 >= '0' && *p1 <= '9')
				v1 = v1 * 10 + (unsigned long)(*p1++ - '0');
			while (*p2 >= '0' && *p2 <= '9')
				v2 = v2 * 10 + (unsigned long)(*p2++ - '0');
			if (v1 != v2)
				return v1 < v2 ? -1 : 1;
		} else if (*p2 >= '0' && *p2 <= '9') {
			return -1;
		} else if (*p1 != *p2) {
			return (unsigned char)*p1 - (unsigned char)*p2;
		} else {
			p1++;
			p2++;
		}
	}
	return -(unsigned char)*p2;
}

/* ldconfig's order: names greatest first, then flags greatest first; then ours by rank. */
static int entry_cmp(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	int r = libcmp(y->key, x->key);

	if (r)
		return r;
	if (x->flags != y->flags)
		return x->flags < y->flags ? 1 : -1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* ---------------------------------------------------------------- reading */

static uint32_t get32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static const char *string_at(const char *base, size_t size, uint32_t off)
{
	return off < size && memchr(base + off, '\0', size - off) ? base + off : NULL;
}

/* Where the new header is: at the start, or after the old table. */
static int new_header(const char *data, size_t len, size_t *ret)
{
	size_t off = 0;

	if (len >= 16 && !memcmp(data, MAGIC_OLD, strlen(MAGIC_OLD))) {
		uint64_t n = get32(data + 12);

		off = (size_t)(16 + n * ENTRY_OLD + ALIGN_NEW - 1) & ~(size_t)(ALIGN_NEW - 1);
		if (off > len)
			return -EINVAL;
	}
	if (len - off < HEADER_NEW || memcmp(data + off, MAGIC_NEW, strlen(MAGIC_NEW)))
		return -EINVAL;
	if ((data[off + 28] & ENDIAN_MASK) > 1 && (data[off + 28] & ENDIAN_MASK) != ENDIAN_CURRENT)
		return -EINVAL;
	*ret = off;
	return 0;
}

static int push(lc_ldcache *c, entry e)
{
	if (lc_array_reserve(&c->v, &c->cap, c->n, sizeof(entry), 64) < 0)
		return -ENOMEM;
	c->v[c->n++] = e;
	return 0;
}

static int read_entries(lc_ldcache *c, size_t off, size_t len)
{
	const char *base = c->data + off;
	size_t size = len - off;
	uint64_t n = get32(base + 20);

	if (n > (size - HEADER_NEW) / ENTRY_NEW)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const char *p = base + HEADER_NEW + i * ENTRY_NEW;
		entry e = {.rank = (unsigned)(UINT32_MAX / 2 + i)};

		memcpy(&e.flags, p, sizeof(e.flags));
		memcpy(&e.hwcap, p + 16, sizeof(e.hwcap));
		e.key = string_at(base, size, get32(p + 4));
		e.value = string_at(base, size, get32(p + 8));
		if (!e.key || !e.value)
			return -EINVAL;
		if (e.hwcap & HWCAP_EXTENSION)
			return -ENOTSUP;
		if (push(c, e) < 0)
			return -ENOMEM;
	}
	return 0;
}

int lc_ldcache_parse(const char *data, size_t len, lc_ldcache **ret)
{
	lc_ldcache *c = calloc(1, sizeof(*c));
	size_t off = 0;
	int r;

	*ret = NULL;
	if (!c || !(c->data = malloc(len + 1))) {
		free(c);
		return -ENOMEM;
	}
	memcpy(c->data, data, len);
	c->data[len] = '\0';
	r = new_header(c->data, len, &off);
	if (r >= 0)
		r = read_entries(c, off, len);
	if (r < 0) {
		lc_ldcache_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int lc_ldcache_add(lc_ldcache *c, int32_t flags, const char *name, const char *path)
{
	size_t n = c->strings.n;

	for (size_t i = 0; i < c->n; i++) /* one entry per name and path, as ldconfig */
		if (c->v[i].rank < c->added && c->v[i].flags == flags &&
		    !strcmp(c->v[i].key, name) && !strcmp(c->v[i].value, path))
			return 0;
	if (lc_strvec_push(&c->strings, name) < 0 || lc_strvec_push(&c->strings, path) < 0)
		return -ENOMEM;
	return push(c, (entry){.flags = flags,
			       .key = c->strings.v[n],
			       .value = c->strings.v[n + 1],
			       .rank = c->added++});
}

lc_ldcache *lc_ldcache_free(lc_ldcache *c)
{
	if (c) {
		lc_strvec_free(&c->strings);
		free(c->v);
		free(c->data);
		free(c);
	}
	return NULL;
}

/* ---------------------------------------------------------------- writing */

static void put32(lc_buf *b, size_t at, uint32_t v)
{
	memcpy(b->data + at, &v, sizeof(v));
}

int lc_ldcache_write(lc_ldcache *c, char **ret, size_t *ret_len)
{
	size_t strings = HEADER_NEW + c->n * ENTRY_NEW;
	lc_buf b = LC_BUF_INIT;
	char zero[HEADER_NEW] = {0};

	qsort(c->v, c->n, sizeof(entry), entry_cmp);
	if (lc_buf_append(&b, zero, HEADER_NEW) < 0)
		return -ENOMEM;
	memcpy(b.data, MAGIC_NEW, strlen(MAGIC_NEW));
	put32(&b, 20, (uint32_t)c->n);
	b.data[28] = ENDIAN_CURRENT;
	for (size_t i = 0; i < c->n; i++) {
		struct new_entry_shape e = {.flags = c->v[i].flags, .hwcap = c->v[i].hwcap};

		if (lc_buf_append(&b, &e, ENTRY_NEW) < 0)
			goto oom;
	}
	for (size_t i = 0; i < c->n; i++) {
		put32(&b, HEADER_NEW + i * ENTRY_NEW + 4, (uint32_t)b.len);
		if (lc_buf_append(&b, c->v[i].key, strlen(c->v[i].key) + 1) < 0)
			goto oom;
		put32(&b, HEADER_NEW + i * ENTRY_NEW + 8, (uint32_t)b.len);
		if (lc_buf_append(&b, c->v[i].value, strlen(c->v[i].value) + 1) < 0)
			goto oom;
	}
	put32(&b, 24, (uint32_t)(b.len - strings));
	*ret_len = b.len;
	*ret = lc_buf_steal(&b);
	return 0;
oom:
	lc_buf_free(&b);
	return -ENOMEM;
}

/* ---------------------------------------------------------------- what ldconfig reads of a
 * library */

#define MAX_PHDRS 256
#define MAX_DYNAMIC (64u << 10)

typedef struct elf_view {
	int fd;
	bool is64;
	/* the loadable segments, to find the string table's file offset */
	uint64_t load_vaddr[MAX_PHDRS], load_off[MAX_PHDRS], load_size[MAX_PHDRS];
	size_t loads;
	uint64_t dyn_off, dyn_size;
} elf_view;

static int read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -ENOEXEC;
}

static int32_t cache_flags(const unsigned char *ident, uint16_t machine)
{
	bool is64 = ident[EI_CLASS] == ELFCLASS64;

	if (machine == EM_X86_64)
		return is64 ? 0x0303 : 0x0803; /* libc6,x86-64 / libc6,x32 */
	if (machine == EM_386 && !is64)
		return 0x0003; /* libc6 */
	if (machine == EM_AARCH64 && is64)
		return 0x0a03; /* libc6,AArch64 */
	if (machine == EM_PPC64 && is64)
		return 0x0503; /* libc6,64bit */
	return -1;
}

static int read_phdrs(elf_view *v, uint64_t phoff, unsigned phnum, unsigned phentsize)
{
	for (unsigned i = 0; i < phnum; i++) {
		union {
			Elf64_Phdr p64;
			Elf32_Phdr p32;
		} u;
		uint64_t type, off, vaddr, size;
		int r = read_exact(v->fd, &u, phentsize, phoff + (uint64_t)i * phentsize);

		if (r < 0)
			return r;
		type = v->is64 ? u.p64.p_type : u.p32.p_type;
		off = v->is64 ? u.p64.p_offset : u.p32.p_offset;
		vaddr = v->is64 ? u.p64.p_vaddr : u.p32.p_vaddr;
		size = v->is64 ? u.p64.p_filesz : u.p32.p_filesz;
		if (type == PT_DYNAMIC) {
			v->dyn_off = off;
			v->dyn_size = size;
		} else if (type == PT_LOAD && v->loads < MAX_PHDRS) {
			v->load_vaddr[v->loads] = vaddr;
			v->load_off[v->loads] = off;
			v->load_size[v->loads++] = size;
		}
	}
	return v->dyn_size ? 0 : -ENOEXEC;
}

static int file_offset(const elf_view *v, uint64_t vaddr, uint64_t *ret)
{
	for (size_t i = 0; i < v->loads; i++)
		if (vaddr >= v->load_vaddr[i] && vaddr - v->load_vaddr[i] < v->load_size[i]) {
			*ret = vaddr - v->load_vaddr[i] + v->load_off[i];
			return 0;
		}
	return -ENOEXEC;
}

/* DT_SONAME's string, if any (NULL then). */
static int read_soname(const elf_view *v, char **ret)
{
	size_t dsize = v->is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
	uint64_t strtab = UINT64_MAX, soname = UINT64_MAX, at;
	_cleanup_free_ char *dyn = NULL;
	char name[NAME_MAX + 1];
	size_t n = v->dyn_size > MAX_DYNAMIC ? MAX_DYNAMIC : v->dyn_size;
	int r;

	*ret = NULL;
	if (!(dyn = malloc(n)))
		return -ENOMEM;
	if ((r = read_exact(v->fd, dyn, n, v->dyn_off)) < 0)
		return r;
	for (size_t i = 0; i + dsize <= n; i += dsize) {
		Elf64_Dyn d64;
		Elf32_Dyn d32;
		int64_t tag;
		uint64_t val;

		memcpy(v->is64 ? (void *)&d64 : (void *)&d32, dyn + i, dsize);
		tag = v->is64 ? d64.d_tag : d32.d_tag;
		val = v->is64 ? d64.d_un.d_val : d32.d_un.d_val;
		if (tag == DT_NULL)
			break;
		if (tag == DT_STRTAB)
			strtab = val;
		else if (tag == DT_SONAME)
			soname = val;
	}
	if (soname == UINT64_MAX)
		return 0;
	if (strtab == UINT64_MAX || file_offset(v, strtab, &at) < 0 || at + soname < at)
		return -ENOEXEC;
	memset(name, 0, sizeof(name));
	if (pread(v->fd, name, sizeof(name) - 1, (off_t)(at + soname)) <= 0 || !*name ||
	    strlen(name) == sizeof(name) - 1 || strchr(name, '/'))
		return -ENOEXEC;
	*ret = strdup(name);
	return *ret ? 0 : -ENOMEM;
}

int lc_elf_library(int fd, char **ret_soname, int32_t *ret_flags)
{
	union {
		unsigned char ident[EI_NIDENT];
		Elf64_Ehdr e64;
		Elf32_Ehdr e32;
	} h;
	elf_view *v = NULL;
	uint16_t type, machine, phentsize, phnum;
	uint64_t phoff;
	int r;

	*ret_soname = NULL;
	if ((r = read_exact(fd, &h, sizeof(h.e32), 0)) < 0)
		return r;
	if (memcmp(h.ident, ELFMAG, SELFMAG) ||
	    h.ident[EI_DATA] != (ENDIAN_CURRENT == 2 ? ELFDATA2LSB : ELFDATA2MSB) ||
	    (h.ident[EI_CLASS] == ELFCLASS64 && (r = read_exact(fd, &h, sizeof(h.e64), 0)) < 0))
		return r < 0 ? r : -ENOEXEC;
	if (h.ident[EI_CLASS] != ELFCLASS64 && h.ident[EI_CLASS] != ELFCLASS32)
		return -ENOEXEC;
	if (!(v = calloc(1, sizeof(*v))))
		return -ENOMEM;
	v->fd = fd;
	v->is64 = h.ident[EI_CLASS] == ELFCLASS64;
	type = v->is64 ? h.e64.e_type : h.e32.e_type;
	machine = v->is64 ? h.e64.e_machine : h.e32.e_machine;
	phoff = v->is64 ? h.e64.e_phoff : h.e32.e_phoff;
	phentsize = v->is64 ? h.e64.e_phentsize : h.e32.e_phentsize;
	phnum = v->is64 ? h.e64.e_phnum : h.e32.e_phnum;
	*ret_flags = cache_flags(h.ident, machine);
	if (type != ET_DYN || *ret_flags < 0 || phnum > MAX_PHDRS ||
	    phentsize != (v->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		r = -ENOEXEC;
	else if ((r = read_phdrs(v, phoff, phnum, phentsize)) >= 0)
		r = read_soname(v, ret_soname);
	free(v);
	return r;
}
