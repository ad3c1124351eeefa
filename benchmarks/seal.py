"""Seal throughput: Coffre in one process vs. the `pyhanko sign addsig pkcs11` command.

The embedded default's seal key (SoftHSM2, EC P-256) and local TSA (its own process),
200 distinct archive PDFs (PDF/A-2b with text). Coffre seals them all in one process on
one PKCS#11 session at B-T, then again at B-LTA; the baseline runs pyHanko's command
once per file (what an operator would do by hand), on a sample of the same files.

    .venv/bin/python -m benchmarks.seal [--documents 200] [--baseline-files 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="coffre-bench-seal-"))
os.environ.setdefault("COFFRE_HOME", str(WORK / "home"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def archive_pdfs(count: int) -> list[bytes]:
    from coffre.tasks.normalize import NormalizeLimits, normalize
    from coffre.tasks.sniff import sniff
    from tests.documents import INVOICE_LINES, text_pdf

    seed = text_pdf(INVOICE_LINES)
    pdfa = normalize(seed, sniff(seed), NormalizeLimits(10, 10**8, "fra+eng", 300), WORK).archive
    return [pdfa + f"%copy {index}\n".encode() for index in range(count)]


def store_certificate_on_token(embedded) -> None:  # type: ignore[no-untyped-def]
    """pyHanko's command reads the certificate from the token: put it there."""
    from pkcs11 import Attribute, CertificateType, ObjectClass

    cert = embedded.signing_cert()
    with embedded.open_session(rw=True) as session:
        if list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})):
            return
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: embedded.key_label,
                Attribute.SUBJECT: cert.subject.dump(),
                Attribute.VALUE: cert.dump(),
            }
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--baseline-files", type=int, default=20)
    args = parser.parse_args()

    from coffre.bootstrap import prepare_home
    from coffre.settings import get_settings
    from coffre.tasks.embedded_seal import local_tsa_command, prepare_embedded_seal
    from coffre.tasks.seal import Sealer, SealLevel
    from coffre.tasks.sealing import seal_config

    port = free_port()
    os.environ["COFFRE_TSA_PORT"] = str(port)
    prepare_home()
    settings = get_settings()
    embedded = prepare_embedded_seal(settings.resolved_home, settings.seal_organisation)
    tsa = subprocess.Popen(local_tsa_command(embedded, port))
    time.sleep(1.5)
    try:
        pdfs = archive_pdfs(args.documents)
        config = seal_config(settings)
        print(f"{len(pdfs)} archive PDFs of {len(pdfs[0])} bytes, SoftHSM2 EC P-256, local TSA")

        rates = {}
        for level in (SealLevel.B_T, SealLevel.B_LTA):
            # One batch on one PKCS#11 session, as the seal task does.
            with Sealer(replace(config, level=level)) as sealer:
                sealer.seal(pdfs[0])  # warm-up: the TSA's certificates, imports
                start = time.perf_counter()
                for pdf in pdfs:
                    sealer.seal(pdf)
                elapsed = time.perf_counter() - start
            rates[level] = len(pdfs) / elapsed
            print(f"coffre {level.value:<6}: {elapsed:6.2f} s  {rates[level]:6.1f} seals/s")

        store_certificate_on_token(embedded)
        sample = pdfs[: args.baseline_files]
        folder = WORK / "baseline"
        folder.mkdir()
        env = {
            **os.environ,
            "SOFTHSM2_CONF": str(embedded.softhsm_conf),
            "PYHANKO_PKCS11_PIN": embedded.pin.get_secret_value(),
        }
        start = time.perf_counter()
        for index, pdf in enumerate(sample):
            source, target = folder / f"in-{index}.pdf", folder / f"out-{index}.pdf"
            source.write_bytes(pdf)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pyhanko",
                    "sign",
                    "addsig",
                    "--field",
                    "CoffreSeal",
                    "--use-pades",
                    "--timestamp-url",
                    f"http://127.0.0.1:{port}/",
                    "pkcs11",
                    "--lib",
                    embedded.module_path,
                    "--token-label",
                    embedded.token_label,
                    "--key-label",
                    embedded.key_label,
                    "--cert-label",
                    embedded.key_label,
                    "--raw-mechanism",
                    str(source),
                    str(target),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
        elapsed = time.perf_counter() - start
        baseline = len(sample) / elapsed
        print(
            f"pyhanko command, B-T, once per file ({len(sample)} files): "
            f"{elapsed:6.2f} s  {baseline:6.2f} seals/s"
        )
        print(f"ratio coffre B-T / command: {rates[SealLevel.B_T] / baseline:.1f}x  (goal >= 20x)")
        print(f"B-T goal >= 25 seals/s: {rates[SealLevel.B_T]:.1f}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of this process: {peak:.0f} MiB")
    finally:
        tsa.terminate()
        tsa.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
