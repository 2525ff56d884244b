// The ABI between the native addon and the TypeScript above it: every number
// and name both sides must agree on lives here and nowhere else. addon.cc
// exports all of it as `constants`; reactor/ reads it from there, so a change
// here reaches TypeScript without a second copy to forget.
//
// What a batch holds (the reactor fills it, JavaScript reads it, once per
// wakeup):
//
//   fds[i], tokens[i]      the registration's fd and token (JavaScript finds
//                          the registration by fd and drops the event when
//                          the token is not the fd's current one)
//   events[i]              its RX_* readiness
//   offsets[i], lengths[i] for a stream token (RX_TOKEN_READ): the bytes read
//                          natively into the arena at offsets[i], lengths[i]
//                          long (0: end of stream, < 0: -errno of the read,
//                          RX_NOT_READ: nothing was read);
//                          for a datagram token (RX_TOKEN_DGRAM): the index
//                          of the first datagram in dgram_meta and how many
//                          arrived (or -errno / RX_NOT_READ)
//   dgram_meta[k * RX_DGRAM_FIELDS + RX_DGRAM_*]  one datagram's fields
//   dgram_addrs[k * RX_ADDR_SLOT ...]             its source address bytes,
//                                                  network order (4 or 16)
#ifndef RXNET_ABI_H_
#define RXNET_ABI_H_

#include <cstddef>
#include <cstdint>

namespace rxnet {

// ---- tokens -------------------------------------------------------------------
// A token is a 29-bit generation (never 0) plus flag bits. The caller picks a
// new generation for every registration, so an event for an fd that was
// removed and reused is recognised as stale.
constexpr uint32_t RX_TOKEN_READ = 0x80000000u;   // read this stream natively on readiness
constexpr uint32_t RX_TOKEN_DGRAM = 0x40000000u;  // drain this datagram socket (recvmmsg)
// The registering layer owns the fd (a connection, a listener, a UDP socket):
// when the environment tears down (worker exit) no JavaScript can close it any
// more, so the reactor does.
constexpr uint32_t RX_TOKEN_OWNED = 0x20000000u;
constexpr uint32_t RX_TOKEN_GENERATION = 0x1fffffffu;

// ---- batch --------------------------------------------------------------------
// lengths[i] when nothing was read for event i.
constexpr int32_t RX_NOT_READ = INT32_MIN;
// Default sizes of the views JavaScript allocates once per reactor.
constexpr int RX_BATCH_CAPACITY = 1024;             // events per wakeup
constexpr size_t RX_ARENA_BYTES = 2 * 1024 * 1024;  // 32 streams at their read budget
constexpr int RX_DGRAM_CAPACITY = 1024;             // datagrams per wakeup, all sockets

// ---- budgets (per socket per wakeup, so one busy socket cannot starve the rest)
constexpr size_t RX_READ_BUDGET = 64 * 1024;  // like libuv's 64 KiB read buffer
constexpr int RX_DGRAM_BUDGET = 64;           // datagrams received (and sent per sendmmsg)
constexpr int RX_ACCEPT_BUDGET = 128;         // connections accepted per listener
// A stream is not read when less than this is left of the arena: it stays
// readable (level-triggered) and is read in the next wakeup.
constexpr size_t RX_ARENA_MIN_ROOM = 1024;

// ---- datagram metadata ----------------------------------------------------------
enum : int {
  RX_DGRAM_OFFSET = 0,     // where its bytes start in the arena
  RX_DGRAM_LENGTH = 1,     // bytes received (at most the slot size)
  RX_DGRAM_PORT = 2,       // source port
  RX_DGRAM_FAMILY = 3,     // 4, 6, or 0 for another family
  RX_DGRAM_TRUNCATED = 4,  // 1 when the datagram was larger than its slot
  RX_DGRAM_FIELDS = 5,
};
constexpr int RX_ADDR_SLOT = 16;  // bytes of address per datagram (IPv6 size)
constexpr uint32_t RX_DGRAM_DEFAULT_SIZE = 65535;

// ---- writes -----------------------------------------------------------------------
// Most chunks one writev/sendmsg takes (POSIX guarantees IOV_MAX >= 16;
// Linux, macOS and FreeBSD have 1024).
constexpr int RX_IOV_MAX = 1024;
// Most bytes one sendfile(2) call is asked for: Linux transfers at most
// 0x7ffff000 bytes per call (sendfile(2), NOTES).
constexpr int64_t RX_SENDFILE_MAX = 0x7ffff000;

// ---- descriptor passing ------------------------------------------------------------
// Most descriptors one sendmsg/recvmsg carries as SCM_RIGHTS (a handoff passes
// a server's listening sockets; Linux caps one message at SCM_MAX_FD, 253).
constexpr int RX_MAX_PASSED_FDS = 64;

// ---- socket options -----------------------------------------------------------------
// The options JavaScript may name, in one list; sys.cc maps each to its level
// and number where the OS has it. X(name)
#define RXNET_SOCKET_OPTIONS(X) \
  X(SO_REUSEADDR)               \
  X(SO_REUSEPORT)               \
  X(TCP_NODELAY)                \
  X(SO_KEEPALIVE)               \
  X(SO_RCVBUF)                  \
  X(SO_SNDBUF)                  \
  X(SO_LINGER)                  \
  X(IPV6_V6ONLY)                \
  X(SO_ERROR)                   \
  X(SO_BROADCAST)               \
  X(IP_MULTICAST_TTL)           \
  X(IP_MULTICAST_LOOP)          \
  X(IPV6_MULTICAST_HOPS)        \
  X(IPV6_MULTICAST_LOOP)        \
  X(SO_TYPE)                    \
  X(SO_ACCEPTCONN)

}  // namespace rxnet

#endif  // RXNET_ABI_H_
