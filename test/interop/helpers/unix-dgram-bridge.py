# hostapd talks to its AuC (hlr_auc_gw) over a UNIX datagram socket, which Node's dgram cannot open.
# This bridge binds the socket and relays: each datagram becomes a stdout line "<n> <text>", and a
# stdin line "<n> <reply>" is sent back to that datagram's sender ("<n> " alone: no reply).
# Usage: /usr/bin/python3 unix-dgram-bridge.py SOCKET_PATH
import os
import socket
import sys
import threading

path = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
sock.bind(path)
senders = {}
lock = threading.Lock()


def replies():
    for line in sys.stdin:
        number, _, reply = line.rstrip("\n").partition(" ")
        with lock:
            address = senders.pop(number, None)
        if address is not None and reply:
            sock.sendto(reply.encode(), address)
    os._exit(0)


threading.Thread(target=replies, daemon=True).start()
print("ready", flush=True)
count = 0
while True:
    data, address = sock.recvfrom(65536)
    count += 1
    with lock:
        senders[str(count)] = address
    text = data.decode("ascii", errors="replace").strip().replace("\n", " ")
    print(f"{count} {text}", flush=True)
