/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Preloaded by tools/check_asan.sh after the AddressSanitizer runtime. The Vulkan loader
 * unloads lavapipe at vkDestroyInstance, and LeakSanitizer, which reports at exit, can then
 * name no frame in it: its leaks show as "<unknown module>" and can be neither told from
 * heed's nor suppressed by library. A dlclose that keeps every library loaded keeps their
 * names in the stacks. */
int dlclose (void *handle);

int
dlclose (void *handle)
{
  (void) handle;
  return 0;
}
