"""Tests of the helper against a real FIFO read by this test (the wrapper's side), standard library only."""

import os
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import sustain_marks  # noqa: E402


class Reader:
    """A FIFO held open for reading and writing, as the wrapper holds it."""

    def __init__(self):
        self.directory = tempfile.mkdtemp()
        self.path = os.path.join(self.directory, "marks")
        os.mkfifo(self.path, 0o600)
        self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)

    def lines(self):
        data = b""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        return data.decode().splitlines()

    def close(self):
        os.close(self.fd)
        os.unlink(self.path)
        os.rmdir(self.directory)


class MarkTests(unittest.TestCase):
    def setUp(self):
        self.reader = Reader()
        os.environ["SUSTAIN_MARKS"] = self.reader.path

    def tearDown(self):
        os.environ.pop("SUSTAIN_MARKS", None)
        self.reader.close()

    def test_phase_block_and_event_write_the_lines_the_wrapper_reads(self):
        self.assertTrue(sustain_marks.active())
        with sustain_marks.phase("epoch", units=4096, unit="tokens"):
            pass
        sustain_marks.event("checkpoint")
        self.assertEqual(
            self.reader.lines(), ["begin epoch", "end epoch units=4096.0 unit=tokens", "event checkpoint"])

    def test_a_metric_is_one_line_and_must_be_finite(self):
        sustain_marks.metric("accuracy", 0.913)
        with self.assertRaises(ValueError):
            sustain_marks.metric("loss", float("nan"))
        self.assertEqual(self.reader.lines(), ["metric accuracy=0.913"])

    def test_the_end_is_marked_when_the_block_raises_and_units_can_come_late(self):
        with self.assertRaises(RuntimeError):
            with sustain_marks.phase("train") as work:
                work["units"] = 12
                work["unit"] = "steps"
                raise RuntimeError("boom")
        self.assertEqual(self.reader.lines(), ["begin train", "end train units=12.0 unit=steps"])

    def test_decorator_names_the_phase_after_the_function(self):
        @sustain_marks.phased()
        def evaluate():
            return 42

        self.assertEqual(evaluate(), 42)
        self.assertEqual(self.reader.lines(), ["begin evaluate", "end evaluate"])

    def test_bad_names_are_refused_before_anything_is_sent(self):
        for name in ["", "two words", "a\nb", "x" * 129, "\x1b[2J"]:
            with self.assertRaises(ValueError):
                sustain_marks.begin(name)
        with self.assertRaises(ValueError):
            sustain_marks.end("x", units=-1)
        self.assertEqual(self.reader.lines(), [])

    def test_a_full_pipe_drops_marks_and_never_blocks(self):
        started = time.monotonic()
        delivered = sum(sustain_marks.event("e" * 100) for _ in range(2000))  # > 64 KiB, nobody reads
        self.assertLess(time.monotonic() - started, 5)
        self.assertGreater(delivered, 0)
        self.assertLess(delivered, 2000)

    def test_a_mark_costs_less_than_50_microseconds(self):
        drain = threading.Event()

        def read():
            while not drain.is_set():
                self.reader.lines()
                time.sleep(0.001)

        thread = threading.Thread(target=read)
        thread.start()
        count = 2000
        started = time.perf_counter()
        for _ in range(count):
            sustain_marks.event("step")
        per_mark = (time.perf_counter() - started) / count
        drain.set()
        thread.join()
        print(f"\nsustain_marks: {per_mark * 1e6:.1f} us per mark (open, write, close)")
        self.assertLess(per_mark, 50e-6 * 4, "generous on a loaded CI machine; the README gives the figure")


class OutsideAJobTests(unittest.TestCase):
    def test_without_a_wrapper_nothing_happens_and_nothing_hangs(self):
        os.environ.pop("SUSTAIN_MARKS", None)
        self.assertFalse(sustain_marks.active())
        self.assertFalse(sustain_marks.begin("x"))
        with sustain_marks.phase("y"):
            pass

    def test_a_fifo_nobody_reads_is_not_a_job(self):
        directory = tempfile.mkdtemp()
        path = os.path.join(directory, "marks")
        os.mkfifo(path)
        os.environ["SUSTAIN_MARKS"] = path
        try:
            started = time.monotonic()
            self.assertFalse(sustain_marks.event("x"))  # ENXIO at once, not a hang
            self.assertLess(time.monotonic() - started, 1)
        finally:
            os.environ.pop("SUSTAIN_MARKS", None)
            os.unlink(path)
            os.rmdir(directory)


if __name__ == "__main__":
    unittest.main()
