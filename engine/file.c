/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading untrusted input files with a bound: a file larger than anything valid (or endless,
 * like /dev/zero) is refused after max_bytes + 1 bytes instead of filling memory. */
#include "heed-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

gboolean
heed_file_read (const char *path, gsize max_bytes, char **contents, gsize *length, GError **error)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: %s", path, g_strerror (e));
    return FALSE;
  }
  if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s is a directory", path);
    close (fd);
    return FALSE;
  }
  gsize cap = MIN (max_bytes, (gsize) 1 << 20) + 1, len = 0;
  char *buf = g_malloc (cap + 1);
  for (;;) {
    if (len == cap) {
      if (cap > max_bytes) /* read max_bytes + 1: the file is too large */
        break;
      cap = MIN (cap * 2, max_bytes + 1);
      buf = g_realloc (buf, cap + 1);
    }
    ssize_t got = read (fd, buf + len, cap - len);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      int e = errno;
      g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "%s: %s", path, g_strerror (e));
      g_free (buf);
      close (fd);
      return FALSE;
    }
    if (got == 0)
      break;
    len += (gsize) got;
  }
  close (fd);
  if (len > max_bytes) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                 "%s is larger than the %" G_GSIZE_FORMAT " bytes it can validly hold", path,
                 max_bytes);
    g_free (buf);
    return FALSE;
  }
  buf[len] = '\0';
  *contents = buf;
  if (length)
    *length = len;
  return TRUE;
}
