"""A probe agent for one network namespace, driven over stdin/stdout (JSON lines).

Started as `ip netns exec NS python3 netns-probe.py`. Each request is {"id", "op", ...}; each
reply is {"id", ...}. It listens (tcp echo, udp echo, raw protocol sniffing), connects, sends
raw packets (any ICMP type/code, any IP protocol) and keeps TCP connections open on request, so
tests can see what a router lets through. Test-only: stdlib only, no shell.
"""
import json
import socket
import struct
import sys
import threading

# Linux's IP_PKTINFO; older Pythons do not name it.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)

lock = threading.Lock()
seen_tokens = set()
connections = {}


def reply(message):
    with lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def tcp_echo_server(sock):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=tcp_echo, args=(conn,), daemon=True).start()


def tcp_echo(conn):
    with conn:
        conn.sendall(b"ok")
        while True:
            data = conn.recv(4096)
            if not data:
                return
            conn.sendall(data)


def udp_echo_server(sock):
    """Echoes each datagram from the very address it was sent to (IP_PKTINFO), as a service
    bound to a wildcard address must, or the reply would not match the flow."""
    v6 = sock.family == socket.AF_INET6
    level = socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP
    option = socket.IPV6_PKTINFO if v6 else IP_PKTINFO
    while True:
        data, ancillary, _, peer = sock.recvmsg(4096, socket.CMSG_SPACE(64))
        replies = []
        for cmsg_level, cmsg_type, cmsg_data in ancillary:
            if cmsg_level == level and cmsg_type == option:
                if v6:
                    replies.append((level, option, cmsg_data[:16] + struct.pack("I", 0)))
                else:
                    replies.append((level, option, struct.pack("I", 0) + cmsg_data[8:12] + cmsg_data[8:12]))
        sock.sendmsg([data], replies, 0, peer)


def raw_sniffer(sock):
    while True:
        data = sock.recv(65535)
        start = data.find(b"SGP:")
        if start >= 0:
            token = data[start + 4:start + 4 + 16].decode(errors="replace")
            with lock:
                seen_tokens.add(token)


def bound_socket(family, kind, proto=0, src=None):
    sock = socket.socket(family, kind, proto)
    if src:
        sock.bind((src, 0))
    return sock


def listen(request):
    family = socket.AF_INET6 if request["family"] == 6 else socket.AF_INET
    any_address = "::" if family == socket.AF_INET6 else "0.0.0.0"
    proto = request["proto"]
    if proto in ("tcp", "udp"):
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(family, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto == "udp":
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.bind((any_address, request["port"]))
        if proto == "tcp":
            sock.listen(64)
            threading.Thread(target=tcp_echo_server, args=(sock,), daemon=True).start()
        else:
            threading.Thread(target=udp_echo_server, args=(sock,), daemon=True).start()
    else:
        sock = socket.socket(family, socket.SOCK_RAW, int(proto))
        threading.Thread(target=raw_sniffer, args=(sock,), daemon=True).start()
    return {"ok": True}


def tcp_connect(request):
    sock = bound_socket(family_of(request["dst"]), socket.SOCK_STREAM, src=request.get("src"))
    sock.settimeout(request["timeout"])
    try:
        sock.connect((request["dst"], request["port"]))
        greeting = sock.recv(2)
        if request.get("keep"):
            connections[request["keep"]] = sock
        else:
            sock.close()
        return {"ok": greeting == b"ok"}
    except OSError as error:
        sock.close()
        return {"ok": False, "error": str(error)}


def tcp_send(request):
    sock = connections.get(request["keep"])
    if sock is None:
        return {"ok": False, "error": "no such connection"}
    sock.settimeout(request["timeout"])
    try:
        sock.sendall(request["data"].encode())
        return {"ok": sock.recv(4096).decode() == request["data"]}
    except OSError as error:
        return {"ok": False, "error": str(error)}


def udp_exchange(request):
    sock = bound_socket(family_of(request["dst"]), socket.SOCK_DGRAM, src=request.get("src"))
    sock.settimeout(request["timeout"])
    try:
        sock.sendto(b"SGP:" + request["token"].encode(), (request["dst"], request["port"]))
        data, _ = sock.recvfrom(4096)
        return {"ok": data.startswith(b"SGP:")}
    except OSError as error:
        return {"ok": False, "error": str(error)}
    finally:
        sock.close()


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def raw_send(request):
    family = family_of(request["dst"])
    proto = int(request["proto"])
    payload = b"SGP:" + request["token"].encode()
    if proto in (1, 58):
        header = struct.pack("!BBHHH", request["icmpType"], request["icmpCode"], 0, 0x5347, 1)
        packet = header + payload
        if proto == 1:
            packet = header[:2] + struct.pack("!H", checksum(packet)) + header[4:] + payload
    else:
        packet = payload
    sock = bound_socket(family, socket.SOCK_RAW, proto, src=request.get("src"))
    try:
        sock.sendto(packet, (request["dst"], 0))
        return {"ok": True}
    except OSError as error:
        return {"ok": False, "error": str(error)}
    finally:
        sock.close()


def seen(request):
    with lock:
        return {"seen": request["token"] in seen_tokens}


OPERATIONS = {
    "listen": listen,
    "tcp": tcp_connect,
    "tcp-send": tcp_send,
    "udp": udp_exchange,
    "raw-send": raw_send,
    "seen": seen,
}


def main():
    reply({"id": 0, "ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = OPERATIONS[request["op"]](request)
        except Exception as error:  # report, never die: the test decides
            result = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}
        result["id"] = request["id"]
        reply(result)


if __name__ == "__main__":
    main()
