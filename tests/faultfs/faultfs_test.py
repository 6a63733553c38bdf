#!/usr/bin/env python3
"""Tests of refx-faultfs itself: what a power cut keeps and what it drops.

Usage: faultfs_test.py PATH/TO/refx-faultfs   (needs /dev/fuse and fusermount3; run as root
or a user allowed to mount FUSE). Each test mounts a fresh file system.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

FAULTFS = None


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path, data, sync=False):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


class FaultFsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="faultfs-test-")
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.mnt)
        self.proc = subprocess.Popen([FAULTFS, self.mnt, "-f", "-o", "auto_unmount,max_threads=8"])
        for _ in range(100):
            if os.path.ismount(self.mnt):
                break
            time.sleep(0.05)
        self.assertTrue(os.path.ismount(self.mnt), "refx-faultfs did not mount")

    def tearDown(self):
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def p(self, *parts):
        return os.path.join(self.mnt, *parts)

    def control(self, command):
        with open(self.p(".faultfs"), "w") as f:
            f.write(command)

    def stats(self):
        return dict(line.split() for line in read_file(self.p(".faultfs")).decode().splitlines())

    def cut(self):
        self.control("cut")

    def test_write_without_fsync_is_gone_after_a_cut(self):
        write_file(self.p("a"), b"hello")
        self.assertEqual(read_file(self.p("a")), b"hello")  # served before the cut
        self.cut()
        self.assertFalse(os.path.exists(self.p("a")))

    def test_file_fsync_without_folder_fsync_loses_the_name(self):
        write_file(self.p("a"), b"hello", sync=True)
        self.cut()
        self.assertFalse(os.path.exists(self.p("a")))

    def test_file_and_folder_fsync_keep_the_file(self):
        write_file(self.p("a"), b"hello", sync=True)
        fsync_path(self.mnt)
        self.cut()
        self.assertEqual(read_file(self.p("a")), b"hello")

    def test_folder_fsync_without_file_fsync_keeps_an_empty_file(self):
        write_file(self.p("a"), b"hello")
        fsync_path(self.mnt)
        self.cut()
        self.assertEqual(read_file(self.p("a")), b"")

    def test_bytes_after_the_last_fsync_are_dropped(self):
        fd = os.open(self.p("log"), os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"synced.")
        os.fdatasync(fd)
        os.write(fd, b"not yet")
        os.pwrite(fd, b"S", 0)  # overwrites synced bytes: also unsynced
        os.close(fd)
        fsync_path(self.mnt)
        self.assertEqual(read_file(self.p("log")), b"Synced.not yet")
        self.cut()
        self.assertEqual(read_file(self.p("log")), b"synced.")

    def test_rename_without_folder_fsync_keeps_the_old_name(self):
        write_file(self.p("cursor"), b"1\n", sync=True)
        fsync_path(self.mnt)
        write_file(self.p("cursor.tmp"), b"2\n", sync=True)
        os.rename(self.p("cursor.tmp"), self.p("cursor"))
        self.assertEqual(read_file(self.p("cursor")), b"2\n")
        self.cut()
        self.assertEqual(read_file(self.p("cursor")), b"1\n")
        self.assertFalse(os.path.exists(self.p("cursor.tmp")))

    def test_rename_with_folder_fsync_is_kept(self):
        write_file(self.p("cursor"), b"1\n", sync=True)
        fsync_path(self.mnt)
        write_file(self.p("cursor.tmp"), b"2\n", sync=True)
        os.rename(self.p("cursor.tmp"), self.p("cursor"))
        fsync_path(self.mnt)
        self.cut()
        self.assertEqual(read_file(self.p("cursor")), b"2\n")
        self.assertEqual(sorted(os.listdir(self.mnt)), ["cursor"])

    def test_unlink_without_folder_fsync_comes_back(self):
        write_file(self.p("a"), b"kept", sync=True)
        fsync_path(self.mnt)
        os.unlink(self.p("a"))
        self.cut()
        self.assertEqual(read_file(self.p("a")), b"kept")

    def test_a_new_folder_needs_its_parent_synced(self):
        os.mkdir(self.p("d"))
        write_file(self.p("d", "f"), b"x", sync=True)
        fsync_path(self.p("d"))
        self.cut()
        self.assertFalse(os.path.exists(self.p("d")))
        os.mkdir(self.p("d"))
        write_file(self.p("d", "f"), b"x", sync=True)
        fsync_path(self.p("d"))
        fsync_path(self.mnt)
        self.cut()
        self.assertEqual(read_file(self.p("d", "f")), b"x")

    def test_truncate_after_fsync_is_undone(self):
        write_file(self.p("a"), b"0123456789", sync=True)
        fsync_path(self.mnt)
        os.truncate(self.p("a"), 3)
        self.assertEqual(read_file(self.p("a")), b"012")
        self.cut()
        self.assertEqual(read_file(self.p("a")), b"0123456789")

    def test_hard_link_is_a_folder_entry(self):
        write_file(self.p("a"), b"x", sync=True)
        fsync_path(self.mnt)
        os.link(self.p("a"), self.p("b"))
        self.assertEqual(os.stat(self.p("a")).st_nlink, 2)
        self.cut()
        self.assertFalse(os.path.exists(self.p("b")))
        self.assertEqual(os.stat(self.p("a")).st_nlink, 1)

    def test_sync_command_makes_everything_durable(self):
        os.makedirs(self.p("x", "y"))
        write_file(self.p("x", "y", "z"), b"all")
        self.control("sync")
        self.assertEqual(self.stats()["unsynced_files"], "0")
        self.cut()
        self.assertEqual(read_file(self.p("x", "y", "z")), b"all")
        self.assertEqual(self.stats()["cuts"], "1")

    def test_capacity_refuses_writes_then_frees(self):
        write_file(self.p("a"), b"x" * 1000)
        self.control("capacity 1500")
        with self.assertRaises(OSError) as err:
            write_file(self.p("b"), b"y" * 1000)
        self.assertEqual(err.exception.errno, 28)  # ENOSPC
        self.control("capacity off")
        write_file(self.p("b"), b"y" * 1000)
        self.assertEqual(len(read_file(self.p("b"))), 1000)

    def test_unknown_command_is_refused(self):
        with self.assertRaises(OSError):
            self.control("explode")


if __name__ == "__main__":
    FAULTFS = os.path.abspath(sys.argv.pop(1))
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        print("skipped: no /dev/fuse or no fusermount3 (Debian package fuse3)")
        sys.exit(77)
    unittest.main(verbosity=2)
