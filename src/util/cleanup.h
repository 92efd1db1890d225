/* SPDX-License-Identifier: Apache-2.0 */
/* Cleanup attributes and ownership transfer (systemd/libgit2 style). */
#ifndef LC_UTIL_CLEANUP_H
#define LC_UTIL_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void lc_freep(void *p)
{
	free(*(void **)p);
}

static inline void lc_closep(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
}

static inline void lc_fclosep(FILE **f)
{
	if (*f)
		(void)fclose(*f);
}

#define _cleanup_free_ _cleanup_(lc_freep)
#define _cleanup_close_ _cleanup_(lc_closep)
#define _cleanup_fclose_ _cleanup_(lc_fclosep)

#define TAKE_PTR(p)                     \
	({                              \
		__typeof__(p) _t = (p); \
		(p) = NULL;             \
		_t;                     \
	})
#define TAKE_FD(fd)            \
	({                     \
		int _f = (fd); \
		(fd) = -1;     \
		_f;            \
	})

/* Cleanup for a pointer type with a destructor fn(ptr): declares fn##p. */
#define LC_DEFINE_CLEANUP(type, fn)       \
	static inline void fn##p(type *p) \
	{                                 \
		if (*p)                   \
			fn(*p);           \
	}

#define LC_ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#endif
