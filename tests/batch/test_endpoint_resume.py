"""Issue 15, item 4 across runs: an endpoint entry killed mid-run (SIGKILL) and rerun
resumes from the answers it kept: same answers as an uninterrupted run, nothing sent
twice, every chunk's cost counted once and the chunk lost in flight counted as lost.
A fake slow server on 127.0.0.1 stands in for the model server; every loop is bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tabinv.batch.checkpoint import QueryJournal, chunk_digest
from tabinv.exceptions import TabinvError

ROOT = Path(__file__).resolve().parents[2]
KEY = "ab" * 32
CHUNKS, ROWS = 30, 4


def _posterior(rows: np.ndarray) -> np.ndarray:
    """What the fake server answers: a softmax over three classes of fixed row sums."""
    scores = np.stack([rows.sum(axis=1), rows[:, 0] - rows[:, 1], rows[:, 2] * 2], axis=1)
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    return scores / scores.sum(axis=1, keepdims=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay, self.lock = delay, threading.Lock()
        self.requests = self.rows = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        rows = np.asarray(json.loads(body)["rows"], dtype=float)
        with self.server.lock:
            self.server.requests += 1
            self.server.rows += len(rows)
        time.sleep(self.server.delay)
        data = json.dumps({"answers": _posterior(rows).tolist()}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client was killed meanwhile
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server(delay=0.05)
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.shutdown()
        running.server_close()
        thread.join(timeout=10)


def _chunks() -> list[np.ndarray]:
    rows = np.random.default_rng(0).normal(size=(CHUNKS * ROWS, 3))
    return [rows[i * ROWS:(i + 1) * ROWS] for i in range(CHUNKS)]


def work(url: str, folder: str, out: str) -> None:
    """The worker: every chunk through the journal, answers saved to ``out``."""
    journal = QueryJournal(folder, KEY)

    def send(rows: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        started = time.perf_counter()
        request = urllib.request.Request(url, json.dumps({"rows": rows.tolist()}).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answers = np.asarray(json.loads(response.read())["answers"], dtype=float)
        return answers, {"rows": len(rows), "requests": 1, "retries": 0,
                         "seconds": time.perf_counter() - started}

    answers = np.concatenate([journal.answer(chunk, send) for chunk in _chunks()])
    Path(f"{out}.json").write_text(json.dumps(journal.used()))
    np.save(out, answers)


def _start(url: str, folder: Path, out: Path) -> subprocess.Popen[bytes]:
    code = ("import sys; from batch.test_endpoint_resume import work; "
            "work(*sys.argv[1:])")
    paths = [str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.Popen([sys.executable, "-c", code, url, str(folder), str(out)],
                            cwd=ROOT, env=env)


def test_a_killed_run_resumes_without_sending_or_counting_twice(server: _Server,
                                                                tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}/invocations"
    folder, out = tmp_path / "checkpoint", tmp_path / "answers.npy"
    first = _start(url, folder, out)
    for _ in range(3000):  # bounded: at most 3000 polls
        if server.requests >= 8 or first.poll() is not None:
            break
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=60) == -signal.SIGKILL
    assert not out.exists()
    kept = len(list((folder / KEY[:32]).glob("*.npz")))
    assert 7 <= kept < CHUNKS
    before = server.requests

    assert _start(url, folder, out).wait(timeout=300) == 0
    resumed = np.load(out)
    assert server.requests - before == CHUNKS - kept  # only the chunks not answered

    journal = QueryJournal(folder, KEY)
    totals = journal.totals()
    assert (totals["rows"], totals["requests"], totals["chunks"]) == (CHUNKS * ROWS, CHUNKS,
                                                                      CHUNKS)
    # a chunk in flight when the worker died: the server saw it, its answer was lost
    assert totals["rows"] <= server.rows <= totals["rows"] + totals["lost_rows"]
    assert totals["lost_chunks"] <= 1 and totals["lost_rows"] == ROWS * totals["lost_chunks"]
    assert not list(folder.rglob("*.tmp"))

    whole = tmp_path / "whole.npy"
    requests = server.requests
    work(url, str(tmp_path / "fresh"), str(whole))  # uninterrupted: in this process
    assert server.requests - requests == CHUNKS
    np.testing.assert_array_equal(resumed, np.load(whole))  # bit for bit
    used = json.loads(Path(f"{out}.json").read_text())
    alone = json.loads(Path(f"{whole}.json").read_text())
    assert (used["rows"], used["requests"]) == (alone["rows"], alone["requests"]) == (
        CHUNKS * ROWS, CHUNKS)
    assert used["lost_chunks"] == totals["lost_chunks"] and alone["lost_chunks"] == 0
    np.testing.assert_array_equal(resumed, _posterior(np.concatenate(_chunks())))
    assert QueryJournal(tmp_path / "fresh", KEY).totals()["lost_chunks"] == 0


def _sender(log: list[int]):  # noqa: ANN202
    def send(rows: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        log.append(len(rows))
        return _posterior(rows), {"rows": len(rows), "requests": 2, "retries": 1}
    return send


def test_answers_are_replayed_and_counted_once(tmp_path: Path) -> None:
    sent: list[int] = []
    chunks = _chunks()[:3]
    journal = QueryJournal(tmp_path, KEY)
    first = [journal.answer(c, _sender(sent)) for c in (*chunks, chunks[0])]
    assert sent == [ROWS] * 3 and journal.sent == 3  # the repeated chunk is not resent
    again = QueryJournal(tmp_path, KEY)
    second = [again.answer(c, _sender(sent)) for c in chunks]
    assert sent == [ROWS] * 3 and again.replayed == 3
    for a, b in zip(first, second, strict=False):
        np.testing.assert_array_equal(a, b)
    assert again.totals() == {"rows": 3 * ROWS, "requests": 6, "retries": 3, "seconds": 0.0,
                              "chunks": 3, "lost_rows": 0, "lost_chunks": 0}


def test_another_key_or_a_damaged_file_is_asked_again(tmp_path: Path) -> None:
    sent: list[int] = []
    chunk = _chunks()[0]
    QueryJournal(tmp_path, KEY).answer(chunk, _sender(sent))
    QueryJournal(tmp_path, "cd" * 32).answer(chunk, _sender(sent))
    assert len(sent) == 2
    stored = tmp_path / KEY[:32] / f"{chunk_digest(chunk)}.npz"
    stored.write_bytes(stored.read_bytes()[:40])
    journal = QueryJournal(tmp_path, KEY)
    np.testing.assert_array_equal(journal.answer(chunk, _sender(sent)), _posterior(chunk))
    assert len(sent) == 3 and journal.totals()["chunks"] == 1


def test_links_wrong_answers_and_object_rows_are_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(TabinvError, match="is not a folder"):
        QueryJournal(tmp_path / "link", KEY)
    journal = QueryJournal(tmp_path / "ok", KEY)
    with pytest.raises(TabinvError, match="answered"):
        journal.answer(_chunks()[0], lambda rows: (np.zeros((1, 3)), {}))
    with pytest.raises(TabinvError, match="neither numbers nor labels"):
        journal.answer(_chunks()[1], lambda rows: (np.array([{}] * len(rows)), {}))
    with pytest.raises(TabinvError, match="numbers"):
        journal.answer(np.array([["a"]], dtype=object), _sender([]))
    assert journal.totals()["lost_chunks"] == 2  # sent, no usable answer kept


def test_label_answers_and_tables_of_columns_are_kept(tmp_path: Path) -> None:
    from tabinv.batch.checkpoint import columns_digest

    columns = {"vkorc1": np.array(["A/A", "G/A", "G/G"], dtype=object),
               "age": np.array([30.0, 40.0, 50.0])}
    digest = columns_digest(columns, 0, 3)
    assert digest != columns_digest(columns, 0, 2) != columns_digest(columns, 1, 3)
    assert digest != columns_digest({**columns, "age": columns["age"] + 1}, 0, 3)
    labels = np.array(["low", "high", 2], dtype=object)
    journal = QueryJournal(tmp_path, KEY)
    journal.ask(digest, 3, lambda: (labels, {"rows": 3, "requests": 1}))
    replay = QueryJournal(tmp_path, KEY).ask(digest, 3, lambda: pytest.fail("sent again"))
    assert replay.dtype == object and replay.tolist() == ["low", "high", 2]


def test_a_resumed_run_reports_the_cost_of_the_answers_it_used(tmp_path: Path) -> None:
    chunks = _chunks()[:4]
    first = QueryJournal(tmp_path, KEY)
    for chunk in chunks[:2]:
        first.answer(chunk, _sender([]))
    assert first.used()["rows"] == 2 * ROWS
    again = QueryJournal(tmp_path, KEY)
    for chunk in (*chunks, chunks[1]):
        again.answer(chunk, _sender([]))
    assert again.used() == {"rows": 4 * ROWS, "requests": 8, "retries": 4, "seconds": 0.0,
                            "lost_rows": 0, "lost_chunks": 0}


def test_a_worker_without_the_output_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(TabinvError, match="remote worker needs the output folder on a "
                                          "shared file system"):
        QueryJournal(tmp_path / "absent" / "entries" / "api" / "checkpoint", KEY)


def test_a_chunk_refused_before_sending_is_not_lost(tmp_path: Path) -> None:
    journal = QueryJournal(tmp_path, KEY)

    def refuse() -> None:
        raise TabinvError("budget spent")

    with pytest.raises(TabinvError, match="budget"):
        journal.ask("f" * 64, 4, lambda: pytest.fail("sent"), refuse)
    assert journal.totals()["lost_chunks"] == 0
