"""ccemu's SSH door against OpenSSH sshd + git-upload-pack, same repository, same run.

    python bench/ssh.py [--repo PATH] [--runs N] [--out bench/RESULTS.md]

The repository is the one bench/git_http.py builds (or reuses, cached under bench/data/). sshd
runs as a child of this script on a free 127.0.0.1 port with its own temporary config, host key
and authorized_keys (the system's sshd and its config are never touched); ccemu gets an IAM user
whose SSH key is the same client key. Both are timed with the real git CLI and ssh client:
ls-remote, full clone, push of 50 commits, fetch of those 50 commits.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from git_http import (  # a sibling script, not a package
    REGION,
    BenchError,
    Ccemu,
    _children,
    fmt_s,
    git_env,
    git_out,
    machine,
    make_commits,
    median,
    prepare_repo,
    read_proc_cpu,
    run,
    run_bench,
    timed,
    write_section,
)

MARK = "ssh"
OPS = ["ls-remote", "full clone", "push 50 commits", "fetch 50 commits"]
SSHD = "/usr/sbin/sshd"
X = "\u00d7"


@dataclass
class Side:
    label: str
    url: Callable[[], str]
    cpu: Callable[[], float]
    samples: dict[str, list[float]] = field(default_factory=dict)
    cpu_samples: dict[str, list[float]] = field(default_factory=dict)

    def record(self, op: str, seconds: float, cpu: float) -> None:
        self.samples.setdefault(op, []).append(seconds)
        self.cpu_samples.setdefault(op, []).append(cpu)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OpenSSH:
    """sshd in the foreground (-D), as a child, with a config of its own."""

    def __init__(self, tmp: Path, client_pub: Path, env: dict[str, str]) -> None:
        if not Path(SSHD).exists():
            raise BenchError(f"{SSHD} is missing: apt-get install openssh-server")
        root = tmp / "sshd"
        root.mkdir()
        self.host_key = root / "ssh_host_ed25519_key"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)], env)
        keys = root / "authorized_keys"
        shutil.copy(client_pub, keys)
        keys.chmod(0o600)
        self.port = _free_port()
        config = root / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {keys}\nPidFile none\nUsePAM no\nStrictModes no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nAcceptEnv GIT_PROTOCOL\nLogLevel ERROR\n"
            f"AllowUsers {getpass.getuser()}\nMaxStartups 100\n"
        )
        # sshd insists on its privilege separation directory (made by the package's service)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        run([SSHD, "-t", "-f", str(config)], env)
        log = open(root / "sshd.log", "wb")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        _children.append(self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"sshd exited: {(root / 'sshd.log').read_text()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise BenchError("sshd did not start listening")

    def known_hosts_line(self) -> str:
        pub = self.host_key.with_name(self.host_key.name + ".pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n"

    def cpu(self) -> float:
        # sshd forks a process per connection, which runs git; both are reaped, so their CPU
        # lands in the listener's children's times.
        return read_proc_cpu(self.proc.pid)


def bench(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="ccemu-bench-ssh-", dir=args.tmp))
    env = git_env(tmp / "home")
    repo = prepare_repo(args, env)
    print(f"repository: {repo.objects:,} objects, {repo.pack_bytes / 2**20:.1f} MiB", flush=True)

    identity = tmp / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(identity)], env)
    pub = identity.with_name("id_ed25519.pub")

    sshd = OpenSSH(tmp, pub, env)
    served = tmp / "served" / "bench.git"
    shutil.copytree(repo.path, served, symlinks=True)
    empty = tmp / "served" / "initial.git"
    run(["git", "init", "-q", "--bare", str(empty)], env)

    ccemu = Ccemu(tmp, env)
    import json

    ssh_url = json.loads((tmp / "ccemu-ready.json").read_text())["ssh"]
    ccemu_port = int(ssh_url.rsplit(":", 1)[1])
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=ccemu.base,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    iam.create_user(UserName="bench")
    iam.attach_user_policy(
        UserName="bench", PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
    )
    key_id = iam.upload_ssh_public_key(UserName="bench", SSHPublicKeyBody=pub.read_text())[
        "SSHPublicKey"
    ]["SSHPublicKeyId"]
    ccemu.create("bench")

    known = tmp / "known_hosts"
    host_keys = run(
        [
            sys.executable,
            "-m",
            "emulator",
            "ssh-host-key",
            "--data-dir",
            str(tmp / "ccemu-data"),
            "--port",
            str(ccemu_port),
        ],
        env,
    ).stdout.decode()
    known.write_text(sshd.known_hosts_line() + host_keys)
    env["GIT_SSH_COMMAND"] = (
        f"ssh -F /dev/null -i {identity} -o IdentitiesOnly=yes -o UserKnownHostsFile={known}"
        " -o StrictHostKeyChecking=yes -o BatchMode=yes"
    )
    user = getpass.getuser()
    git_side = Side(
        "OpenSSH + git", lambda: f"ssh://{user}@127.0.0.1:{sshd.port}{served}", sshd.cpu
    )
    ccemu_side = Side(
        "ccemu", lambda: f"ssh://{key_id}@127.0.0.1:{ccemu_port}/v1/repos/bench", ccemu.cpu
    )
    sides = [git_side, ccemu_side]

    initial: dict[str, float] = {}
    push_all = ["push", "--quiet", "--mirror"]
    initial[git_side.label] = timed(
        ["git", "-C", str(repo.path), *push_all, f"ssh://{user}@127.0.0.1:{sshd.port}{empty}"], env
    )
    initial[ccemu_side.label] = timed(
        ["git", "-C", str(repo.path), *push_all, ccemu_side.url()], env
    )

    work: dict[str, tuple[Path, Path]] = {}
    for i, side in enumerate(sides):
        follower, pusher = tmp / f"follower-{i}", tmp / f"pusher-{i}"
        for d in (follower, pusher):
            run(
                ["git", "clone", "--quiet", "--no-checkout", "-b", repo.branch, side.url(), str(d)],
                env,
            )
        work[side.label] = (follower, pusher)

    clone_objects: dict[str, int] = {}
    for r in range(args.runs):
        print(f"run {r + 1}/{args.runs}", flush=True)
        for side in sides:
            c0 = side.cpu()
            side.record("ls-remote", timed(["git", "ls-remote", side.url()], env), side.cpu() - c0)
        for i, side in enumerate(sides):
            dest = tmp / f"clone-{r}-{i}"
            c0 = side.cpu()
            t = timed(["git", "clone", "--quiet", "--bare", side.url(), str(dest)], env)
            side.record("full clone", t, side.cpu() - c0)
            if r == 0:
                out = git_out(env, "count-objects", "-v", cwd=dest)
                kv = dict(line.split(": ", 1) for line in out.splitlines())
                clone_objects[side.label] = int(kv["count"]) + int(kv["in-pack"])
            shutil.rmtree(dest)
        for side in sides:
            follower, pusher = work[side.label]
            make_commits(env, pusher, repo.branch, 50, 2000 + r)
            c0 = side.cpu()
            t = timed(
                ["git", "push", "--quiet", side.url(), f"{repo.branch}:{repo.branch}"],
                env,
                cwd=pusher,
            )
            side.record("push 50 commits", t, side.cpu() - c0)
            before = git_out(env, "rev-parse", "HEAD", cwd=follower)
            c0 = side.cpu()
            t = timed(
                [
                    "git",
                    "fetch",
                    "--quiet",
                    side.url(),
                    f"+refs/heads/{repo.branch}:refs/remotes/origin/{repo.branch}",
                ],
                env,
                cwd=follower,
            )
            side.record("fetch 50 commits", t, side.cpu() - c0)
            got = git_out(
                env,
                "rev-list",
                "--count",
                f"{before}..refs/remotes/origin/{repo.branch}",
                cwd=follower,
            )
            if got != "50":
                raise BenchError(f"{side.label}: the fetch brought {got} commits, not 50")
            run(
                [
                    "git",
                    "update-ref",
                    f"refs/heads/{repo.branch}",
                    f"refs/remotes/origin/{repo.branch}",
                ],
                env,
                cwd=follower,
            )

    elapsed = time.perf_counter() - t_start
    lines = [
        f"## git over SSH: ccemu vs OpenSSH sshd + git ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        *machine(),
        f"- {run(['ssh', '-V'], env).stderr.decode().strip()} (client and sshd), paramiko "
        f"{__import__('paramiko').__version__} in ccemu",
        f"- command: `python bench/ssh.py --runs {args.runs}"
        f"{' --repo ' + args.repo if args.repo else ''} --out bench/RESULTS.md` "
        f"({elapsed / 60:.1f} min in all)",
        f"- repository: {repo.description}; {repo.objects:,} objects, "
        f"{repo.pack_bytes / 2**20:.1f} MiB packed, {repo.commits:,} commits, {repo.refs} refs",
        f"- median of {args.runs} runs, the real git CLI and OpenSSH client (a new SSH connection "
        "per operation, Ed25519 keys both sides); git asks for protocol v2: sshd passes "
        "GIT_PROTOCOL on, ccemu answers v0; server CPU: sshd's listener and its reaped children "
        "(connection processes and the git they ran), ccemu's process",
        f"- load average (1 min) at the start {load_before:.2f}, at the end "
        f"{os.getloadavg()[0]:.2f}",
        "",
        "| operation | OpenSSH + git | ccemu | ratio | server CPU git | server CPU ccemu |",
        "|---|---|---|---|---|---|",
    ]
    for op in OPS:
        g, c = median(git_side.samples[op]), median(ccemu_side.samples[op])
        lines.append(
            f"| {op} | {fmt_s(g)} | {fmt_s(c)} | {c / g:.2f}{X} | "
            f"{fmt_s(median(git_side.cpu_samples[op]))} | "
            f"{fmt_s(median(ccemu_side.cpu_samples[op]))} |"
        )
    g, c = initial[git_side.label], initial[ccemu_side.label]
    lines.append(
        f"| initial push --mirror into an empty repository (1 run) | {fmt_s(g)} | "
        f"{fmt_s(c)} | {c / g:.2f}{X} | | |"
    )
    lines += [
        "",
        f"- objects in a clone from OpenSSH + git: {clone_objects[git_side.label]}",
        f"- objects in a clone from ccemu: {clone_objects[ccemu_side.label]}",
        "",
        "All runs (seconds):",
        "",
    ]
    for side in sides:
        for op in OPS:
            runs = ", ".join(f"{x:.3f}" for x in side.samples[op])
            lines.append(f"- {side.label}, {op}: {runs}")
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    if args.out:
        write_section(Path(args.out), MARK, report)
        print(f"wrote {args.out}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repo", help="an existing git repository to serve (default: generate one)")
    p.add_argument("--runs", type=int, default=5, help="runs per operation (median reported)")
    p.add_argument("--out", help="write/update this markdown file (e.g. bench/RESULTS.md)")
    p.add_argument("--commits", type=int, default=3000, help="commits of the generated repository")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated repository")
    p.add_argument("--tmp", default=None, help="where the servers' data and clones go")
    args = p.parse_args(argv)

    return run_bench(lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
