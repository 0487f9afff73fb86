# A PC/SC client as ordinary smart-card software would be: pyscard (Debian python3-pyscard) talking
# to pcscd. It waits for a card in the given reader, selects ADF.USIM, reads EF.IMSI and runs
# AUTHENTICATE with the RAND/AUTN given on the command line, then prints what it saw as JSON.
# Usage: /usr/bin/python3 pcsc-usim.py READER_NAME RAND_HEX AUTN_HEX
import json
import sys
import time

from smartcard.System import readers
from smartcard.util import toBytes, toHexString, PACK

reader_name, rand, autn = sys.argv[1], sys.argv[2], sys.argv[3]

# pcscd and the card bridge start in parallel with this script: wait for the card, bounded.
deadline = time.time() + 60
while True:
    try:
        reader = next(r for r in readers() if str(r) == reader_name)
        connection = reader.createConnection()
        connection.connect()
        break
    except Exception:
        if time.time() > deadline:
            raise
        time.sleep(0.2)


def transmit(apdu_hex):
    """Send one APDU; follow '61XX' with GET RESPONSE as a T=0 terminal does."""
    data, sw1, sw2 = connection.transmit(toBytes(apdu_hex))
    while sw1 == 0x61:
        more, sw1, sw2 = connection.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
        data += more
    return {"data": toHexString(data, PACK), "sw": "%02X%02X" % (sw1, sw2)}


result = {
    "atr": toHexString(connection.getATR(), PACK),
    "select_usim": transmit("00A4040C07A0000000871002"),
    "read_imsi": transmit("00B0870009"),
    "authenticate": transmit("0088008122" + "10" + rand + "10" + autn),
    "replay": transmit("0088008122" + "10" + rand + "10" + autn),
}
connection.disconnect()
print(json.dumps(result))
