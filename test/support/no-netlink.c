/*
 * Loaded into the tests' Chromium with LD_PRELOAD (test/support/browser.ts).
 *
 * Chromium follows the host's network interfaces through a NETLINK_ROUTE socket and fails every
 * request in flight with net::ERR_NETWORK_CHANGED when one comes or goes. On a test machine,
 * Docker adds and removes an interface with every container a test starts or removes, so a page
 * could lose a script it was loading and never start. Without that socket, Chromium falls back
 * to assuming that the network never changes. A browser on another machine, as a dashboard
 * user's is, never sees the server's interfaces at all.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol) {
  static int (*next_socket)(int, int, int);
  if (domain == AF_NETLINK && protocol == NETLINK_ROUTE) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  if (!next_socket) next_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
  return next_socket(domain, type, protocol);
}
