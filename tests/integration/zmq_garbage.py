#!/usr/bin/python3
"""zmq_garbage.py: throws hostile ZeroMQ traffic at a coordinator's cluster port.

    zmq_garbage.py tcp://127.0.0.1:PORT [--seed N]

Connects DEALER sockets (as a worker would) and sends: empty and random
frames, too many frames, a frame over the message limit, headers with
unknown versions, types and overlong varints, well-formed headers with
garbage bodies, results for batches never assigned (with and without
registering first), and random bytes on a raw TCP connection. It reads and
discards whatever the coordinator answers. The caller then checks that the
coordinator is alive, serving, and that no label event appeared.

Uses pyzmq when installed, else libzmq through ctypes (exit 77 when neither
is available, so the caller can skip).
"""
import ctypes
import random
import socket
import struct
import sys
import time

ZMQ_DEALER, ZMQ_SNDMORE, ZMQ_DONTWAIT, ZMQ_LINGER, ZMQ_IDENTITY = 5, 2, 1, 17, 5


class CtypesZmq:
    def __init__(self):
        self.z = ctypes.CDLL("libzmq.so.5", use_errno=True)
        z = self.z
        z.zmq_ctx_new.restype = ctypes.c_void_p
        z.zmq_socket.restype = ctypes.c_void_p
        z.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
        z.zmq_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        z.zmq_setsockopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
        z.zmq_send.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        z.zmq_recv.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        z.zmq_close.argtypes = [ctypes.c_void_p]
        z.zmq_ctx_term.argtypes = [ctypes.c_void_p]
        self.ctx = z.zmq_ctx_new()

    def dealer(self, endpoint, identity=None):
        s = self.z.zmq_socket(self.ctx, ZMQ_DEALER)
        zero = ctypes.c_int(0)
        self.z.zmq_setsockopt(s, ZMQ_LINGER, ctypes.byref(zero), 4)
        if identity:
            self.z.zmq_setsockopt(s, ZMQ_IDENTITY, identity, len(identity))
        assert self.z.zmq_connect(s, endpoint.encode()) == 0
        return s

    def send(self, s, frames):
        for i, f in enumerate(frames):
            flags = ZMQ_SNDMORE if i < len(frames) - 1 else 0
            buf = ctypes.create_string_buffer(f, len(f))
            self.z.zmq_send(s, buf, len(f), flags)

    def drain(self, s):
        buf = ctypes.create_string_buffer(1 << 16)
        n = 0
        while self.z.zmq_recv(s, buf, len(buf), ZMQ_DONTWAIT) >= 0:
            n += 1
        return n

    def close(self, s):
        self.z.zmq_close(s)

    def term(self):
        self.z.zmq_ctx_term(self.ctx)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vfield(no, n):
    return varint(no << 3) + varint(n)


def sfield(no, data):
    return varint(no << 3 | 2) + varint(len(data)) + data


def header(version, mtype, corr=0):
    return vfield(1, version) + vfield(2, mtype) + vfield(3, corr)


def register(name, protocol=1, capacity=4):
    return sfield(1, name) + vfield(2, capacity) + vfield(3, protocol) + sfield(4, b"fuzz") + vfield(5, 1)


def result(batch, ids, ticket0=1):
    labels = b""
    for k, i in enumerate(ids):
        lab = (sfield(1, i) + sfield(2, b"7") + varint(3 << 3 | 5) + struct.pack("<f", 0.99)
               + vfield(4, 2) + vfield(5, 1) + vfield(7, ticket0 + k))
        labels += sfield(3, lab)
    return vfield(1, batch) + sfield(2, b"annotate-1") + labels


def main():
    endpoint = sys.argv[1]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--seed" else 1
    rnd = random.Random(seed)
    try:
        import zmq  # noqa: F401  (pyzmq is not required; ctypes does the same)
    except ImportError:
        pass
    try:
        z = CtypesZmq()
    except OSError as e:
        print(f"zmq_garbage: no libzmq: {e}", file=sys.stderr)
        sys.exit(77)

    def rb(n):
        return bytes(rnd.getrandbits(8) for _ in range(n))

    ids = [f"digit-{i:04d}".encode() for i in range(50)]
    s = z.dealer(endpoint)
    time.sleep(0.2)
    fixed = [
        [b""],
        [rb(100)],
        [rb(7), rb(3000)],
        [b"", b""],
        [rb(10) for _ in range(50)],
        [header(1, 1), rb(200)],                       # REGISTER, garbage body
        [header(1, 1), b"\x0a\xff\xff\xff\xff\x0f"],   # REGISTER, length past the end
        [header(2, 1), register(b"v2-worker", 2)],     # another protocol version
        [header(0, 1), register(b"v0-worker", 0)],
        [header(1, 99), b""],                          # unknown type
        [header(1, 0), b""],
        [b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x10\x01", b""],  # overlong varint
        [header(1, 7, 1), result(1, ids)],             # RESULT from a stranger
        [header(1, 4), vfield(1, 3)],                  # HEARTBEAT from a stranger
        [header(1, 9), b""],                           # GOODBYE from a stranger
        [header(1, 1), register(b"\xff\xfebad-utf8")],
        [header(1, 1), register(b"x" * 5000)],
        [header(1, 1), register(b"", 1)],
        [header(1, 1), register(b"huge-cap", 1, 0xFFFFFFFF)],
        [header(1, 1), register(b"zero-cap", 1, 0)],
        [header(1, 6, 5), rb(100)],                    # BATCH sent to the coordinator
        [header(1, 7, 2), result(2, ids) + rb(10)],
    ]
    for frames in fixed:
        z.send(s, frames)
        time.sleep(0.01)
    z.send(s, [header(1, 1), b"x" * (17 << 20)])       # over max_message_bytes
    for _ in range(300):
        n = rnd.choice([1, 2, 2, 2, 3, 4])
        frames = [rb(rnd.randint(0, 64)) for _ in range(n)]
        if rnd.random() < 0.6:
            frames[0] = header(rnd.choice([1, 1, 1, 2]), rnd.randint(0, 10), rnd.randint(0, 1 << 40))
        z.send(s, frames)
    time.sleep(0.3)
    z.drain(s)
    z.close(s)

    # a peer that registers properly under a name not in the manifest and
    # then claims results for batches it was never given
    s = z.dealer(endpoint, identity=b"intruder")
    z.send(s, [header(1, 1), register(b"intruder")])
    time.sleep(0.5)
    z.drain(s)
    for b in range(1, 40):
        z.send(s, [header(1, 7, b), result(b, ids, ticket0=b * 100)])
    time.sleep(0.3)
    z.send(s, [header(1, 9), b""])
    z.drain(s)
    z.close(s)

    # raw bytes, not ZMTP at all
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    for payload in (rb(4096), b"\xff" + b"\x00" * 8 + b"\x7f" + rb(100), b"GET / HTTP/1.1\r\n\r\n"):
        try:
            with socket.create_connection((host, int(port)), timeout=2) as c:
                c.sendall(payload)
                time.sleep(0.05)
        except OSError:
            pass
    z.term()
    print("zmq_garbage: sent", len(fixed) + 301, "messages from strangers, 40 from an intruder")


if __name__ == "__main__":
    main()
