/*
 * util/file.c - small files: nc_file_read (the whole file, under a size
 * cap, with one set of error messages) and nc_file_write_atomic (replace
 * a small file so that a crash at any moment leaves either the old
 * contents or the new, never a mix).
 *
 * The classic sequence: write a temporary file in the same directory
 * (mkstemp, so rename() stays inside one file system), fsync it, rename it
 * over the target, then fsync the directory so the rename itself is on
 * disk. The keyring and tags files of the agent use it (agent/files.c).
 */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/** Write all of @a len bytes, retrying short writes and EINTR. */
static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/** fsync the directory holding @a path ("." when it has no slash). */
static int
sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (slash == NULL) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		size_t n = (size_t)(slash - path);
		if (n >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int
nc_file_write_atomic(const char *path, const void *data, size_t len,
		     unsigned mode)
{
	size_t pl = strlen(path);
	char *tmp = malloc(pl + sizeof(".tmp.XXXXXX"));
	if (tmp == NULL)
		return -ENOMEM;
	memcpy(tmp, path, pl);
	memcpy(tmp + pl, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	/* mkstemp creates the file with mode 0600. */
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int rc = -errno;
		free(tmp);
		return rc;
	}
	int rc = 0;
	if (fchmod(fd, (mode_t)mode) < 0 ||
	    (rc = write_all(fd, data, len)) < 0 || fsync(fd) < 0) {
		if (rc == 0)
			rc = -errno;
		close(fd);
		unlink(tmp);
		free(tmp);
		return rc;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		free(tmp);
		return rc;
	}
	free(tmp);
	return sync_dir(path);
}

int
nc_file_read(const char *path, size_t max_bytes, char **out, size_t *len,
	     unsigned *mode, char *err, size_t err_cap)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		int e = errno;
		return nc_errf(err, err_cap, -e, "%s: %s", path, strerror(e));
	}
	struct stat st;
	if (mode != NULL)
		*mode = fstat(fileno(f), &st) == 0 ? (unsigned)st.st_mode & 07777
						   : 0;
	char *text = max_bytes < SIZE_MAX ? malloc(max_bytes + 1) : NULL;
	if (text == NULL) {
		fclose(f);
		return nc_errf(err, err_cap, -ENOMEM, "%s: out of memory",
			       path);
	}
	/* One byte more than allowed tells "too large" from "just fits". */
	size_t n = fread(text, 1, max_bytes + 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad || n > max_bytes) {
		free(text);
		if (bad)
			return nc_errf(err, err_cap, -EIO, "%s: read error",
				       path);
		return nc_errf(err, err_cap, -EFBIG,
			       "%s: larger than %zu bytes", path, max_bytes);
	}
	text[n] = '\0';
	*out = text;
	if (len != NULL)
		*len = n;
	return 0;
}
