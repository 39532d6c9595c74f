"""TCP load for dataplane benchmarks, run inside a namespace (stdlib only).

  tcp-load.py serve PORT                 accept forever: close new connections, sink bulk data
  tcp-load.py connect DST PORT COUNT     open COUNT fresh connections (distinct 5-tuples), print conn/s
  tcp-load.py bulk DST PORT MEGABYTES    send MEGABYTES over one connection, print MB/s
"""
import socket
import struct
import sys
import threading
import time


def serve(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(4096)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=sink, args=(conn,), daemon=True).start()


def sink(conn):
    with conn:
        try:
            while conn.recv(1 << 20):
                pass
        except OSError:
            pass  # the connect test closes with RST on purpose


def connect(dst, port, count):
    linger = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT pile-up between runs
    start = time.perf_counter()
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        sock.connect((dst, port))
        sock.close()
    print(count / (time.perf_counter() - start), flush=True)


def bulk(dst, port, megabytes):
    sock = socket.create_connection((dst, port))
    chunk = b"\0" * (1 << 20)
    start = time.perf_counter()
    for _ in range(megabytes):
        sock.sendall(chunk)
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)
    print(megabytes / (time.perf_counter() - start), flush=True)
    sock.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "serve":
        serve(int(sys.argv[2]))
    elif mode == "connect":
        connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        bulk(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
