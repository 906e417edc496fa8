#!/usr/bin/env python3
"""Reads one e-mail as the SMTP sink saved it (<n>.eml) with Python's email
package and prints its headers and parts as JSON; each attachment is written
into OUTDIR under its file name (so a test can read the PDF a report mail
carried, decoded from its base64).

    python3 tests/support/mail_parts.py 0001.eml /tmp/parts
"""
import email
import email.policy
import json
import os
import sys


def main():
    path, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        body = part.get_payload(decode=True) or b""
        if name:
            with open(os.path.join(outdir, os.path.basename(name)), "wb") as out:
                out.write(body)
        parts.append({"filename": name, "content_type": part.get_content_type(),
                      "encoding": part.get("Content-Transfer-Encoding", ""), "size": len(body),
                      "text": body.decode("utf-8", "replace") if not name else ""})
    print(json.dumps({"subject": str(msg["Subject"]), "from": str(msg["From"]), "to": str(msg["To"]),
                      "message_id": str(msg["Message-ID"]), "date": str(msg["Date"]),
                      "envelope_to": str(msg["X-Envelope-To"]), "parts": parts}))


if __name__ == "__main__":
    main()
