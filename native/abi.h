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
//   events[i]              its RX_* readiness, plus RX_TLS_* status bits for
//                          a TLS stream (RX_TOKEN_TLS)
//   offsets[i], lengths[i] for a stream token (RX_TOKEN_READ): the bytes read
//                          natively into the arena at offsets[i], lengths[i]
//                          long (0: end of stream, < 0: -errno of the read,
//                          RX_NOT_READ: nothing was read); for a TLS
//                          stream the same, in plaintext: the ciphertext
//                          read was decrypted before the hand-over;
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
// A token is a 27-bit generation (never 0) plus flag bits. The caller picks a
// new generation for every registration, so an event for an fd that was
// removed and reused is recognised as stale.
constexpr uint32_t RX_TOKEN_READ = 0x80000000u;   // read this stream natively on readiness
constexpr uint32_t RX_TOKEN_DGRAM = 0x40000000u;  // drain this datagram socket (recvmmsg)
// The registering layer owns the fd (a connection, a listener, a UDP socket):
// when the environment tears down (worker exit) no JavaScript can close it any
// more, so the reactor does.
constexpr uint32_t RX_TOKEN_OWNED = 0x20000000u;
// A listening socket. Readiness backends report it readable as any fd; a
// completion backend (io_uring) accepts on it itself (multishot accept) and
// hands the connections out through its DataPath::accept.
constexpr uint32_t RX_TOKEN_ACCEPT = 0x10000000u;
// A TLS stream (always with RX_TOKEN_READ): what is read natively is
// ciphertext for the fd's TLS session (tls.h), and the batch carries the
// plaintext it decrypts to.
constexpr uint32_t RX_TOKEN_TLS = 0x08000000u;
constexpr uint32_t RX_TOKEN_GENERATION = 0x07ffffffu;

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

// ---- io_uring -----------------------------------------------------------------------
// Submission ring entries per reactor (the completion ring has 4x as many).
constexpr unsigned RX_URING_ENTRIES = 1024;
// Provided buffers multishot receives pick from: 256 of 8 KiB, as much
// memory as the arena. A receive's bytes are copied into the arena when the
// batch is assembled, and the buffer goes back to the kernel right after the
// batch, so 256 cover 256 streams receiving in one wakeup; beyond that a
// receive ends with ENOBUFS and is re-armed after the batch.
constexpr unsigned RX_URING_BUFFERS = 256;
constexpr unsigned RX_URING_BUFFER_SIZE = 8192;
// Most bytes the ring takes for one stream while a send is in flight (they
// follow it), and so about the most one send carries: like a socket buffer
// in front of the socket's own, where more waits in JavaScript's queue. Kept
// small so what the stream layer sees queued (bufferedAmount, idle and send
// deadlines, maxBufferedBytes) stays close to what a readiness backend shows.
constexpr size_t RX_URING_SEND_MAX = 64 * 1024;
// Provided buffers multishot recvmsg picks for datagram sockets, added to the
// ring when the first one registers: each holds the kernel's header (16
// bytes), the source address (an IPv6 one at most) and a whole datagram of
// RX_DGRAM_DEFAULT_SIZE, so none is cut short by its buffer. 68 KiB, a page
// multiple: a small datagram touches one page of it, so the 17 MiB of
// address space cost about a page per buffer in memory. 256 cover four
// sockets at RX_DGRAM_BUDGET per wakeup; beyond that a receive ends with
// ENOBUFS, the datagrams wait in the socket, and it is armed again after
// the batch.
constexpr unsigned RX_URING_DGRAM_BUFFERS = 256;
constexpr unsigned RX_URING_DGRAM_BUFFER_SIZE = 68 * 1024;
static_assert(RX_URING_DGRAM_BUFFER_SIZE >= 16 + 28 + RX_DGRAM_DEFAULT_SIZE, "a datagram buffer holds a whole datagram");
// Connections a listener's multishot accept may hold before JavaScript takes
// them; past it accepting pauses until they are taken.
constexpr int RX_URING_ACCEPT_QUEUE = 4 * RX_ACCEPT_BUDGET;
// ---- TLS ---------------------------------------------------------------------------
// Status bits the TLS stage ORs into events[i], above the RX_* readiness bits
// of backend.h. They are bits, not special lengths, because they arrive
// together with plaintext: a client's Finished and its first request share a
// segment, a last response can share one with the close_notify after it.
constexpr uint32_t RX_TLS_HANDSHAKE_DONE = 1u << 8;  // completed in this wakeup; lengths[i] is what followed it
constexpr uint32_t RX_TLS_END = 1u << 9;             // after this plaintext the peer sent close_notify
constexpr uint32_t RX_TLS_FAILED = 1u << 10;         // after this plaintext the session failed (alert,
                                                     // bad record, handshake failure); tlsError(fd) says how
constexpr uint32_t RX_TLS_WANT_WRITE = 1u << 11;     // ciphertext the stage made waits for writability
constexpr uint32_t RX_TLS_SERVERNAME = 1u << 12;     // the handshake waits for the server's SNICallback
// Most plaintext one TLS record carries (RFC 8446 5.1, RFC 5246 6.2.1). The
// stage holds at most one incomplete record between reads, so a read of n
// ciphertext bytes decrypts to at most n + this; the reactor reads a TLS
// stream only with that much room in the arena.
constexpr size_t RX_TLS_RECORD_PLAINTEXT = 16384;
// Plaintext encrypted per round of a write before the ciphertext is offered
// to the kernel; what the kernel refuses stops the write, so at most about
// this much ciphertext waits inside the stage per connection.
constexpr size_t RX_TLS_WRITE_ROUND = 64 * 1024;
// tlsAttach's flags.
enum : uint32_t {
  RX_TLS_ATTACH_SERVER = 1u << 0,
  RX_TLS_ATTACH_REQUEST_CERT = 1u << 1,        // server: ask for a client certificate
  RX_TLS_ATTACH_REJECT_UNAUTHORIZED = 1u << 2,  // a peer that does not verify fails the handshake
  RX_TLS_ATTACH_SNI_CALLBACK = 1u << 3,         // server: pause for JavaScript's SNICallback
};
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
