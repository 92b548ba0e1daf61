"""Apache Spark's memory profiler on top of ours, in a real local[2]
session (tools/spark.sh runs this with each PySpark it installs).

PySpark builds its UDF memory profiler on memory_profiler's internals
(CodeMap and LineProfiler subclasses): each of its three ways in must give
per-line tables, with the allocating line's numbers right."""
import contextlib
import io
import os
import re

import pytest

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql.functions import col, pandas_udf, udf  # noqa: E402

VERSION = tuple(int(x) for x in pyspark.__version__.split(".")[:2])
ROW = re.compile(r"^\s*(\d+)\s+(-?\d+\.\d+) MiB\s+(-?\d+\.\d+) MiB\s+(\d+)\s+(.*)$")
MIB = 2 ** 20


def tables(text):
    """[(heading, {source: (mem, inc, occ)})] of the printed profiles."""
    out = []
    for chunk in text.split("Profile of ")[1:]:
        head = chunk.split("\n", 1)[0]
        rows = {}
        for line in chunk.splitlines():
            m = ROW.match(line)
            if m:
                rows[m.group(5).strip()] = (float(m.group(2)), float(m.group(3)), int(m.group(4)))
        out.append((head, rows))
    return out


def captured(fn):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn()
    return buf.getvalue()


def session(**conf):
    b = SparkSession.builder.master("local[2]").appName("memory_profiler-c")
    b = b.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
    for k, v in conf.items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def udfs():
    """The UDFs (made once a session exists): they allocate known amounts
    and keep them for the call."""
    import pandas as pd

    @udf("long")
    def grab(x):
        kept = bytearray(50 * 2 ** 20)
        return len(kept) + x

    @pandas_udf("long")
    def pgrab(s: pd.Series) -> pd.Series:
        kept = bytearray(30 * 2 ** 20)
        return s + len(kept)
    return grab, pgrab


def check_line(rows, source, per_call_mib):
    mem, inc, occ = rows[source]
    assert occ >= 1, rows
    # each execution's allocation, counted on its line (RSS: within 10%)
    assert abs(inc - per_call_mib * occ) <= 0.1 * per_call_mib * occ + 1, (rows, source)


@pytest.mark.skipif(VERSION < (4, 0), reason="spark.sql.pyspark.udf.profiler is Spark 4")
def test_sql_udf_profiler_memory():
    spark = session(**{"spark.sql.pyspark.udf.profiler": "memory"})
    grab, pgrab = udfs()
    try:
        df = spark.range(3, numPartitions=1)
        assert [r[0] for r in df.select(grab(col("id"))).collect()] == [50 * MIB + i for i in range(3)]
        assert [r[0] for r in df.select(pgrab(col("id"))).collect()] == [30 * MIB + i for i in range(3)]
        text = captured(lambda: spark.profile.show(type="memory"))
    finally:
        spark.stop()
    assert "Install the 'memory_profiler' library" not in text
    found = {head: rows for head, rows in tables(text)}
    assert len(found) == 2, text
    by_source = {}
    for rows in found.values():
        by_source.update(rows)
    check_line(by_source, "kept = bytearray(50 * 2 ** 20)", 50)
    check_line(by_source, "kept = bytearray(30 * 2 ** 20)", 30)


def test_python_profile_memory():
    spark = session(**{"spark.python.profile.memory": "true"})
    grab, pgrab = udfs()
    try:
        df = spark.range(3, numPartitions=1)
        assert len(df.select(grab(col("id"))).collect()) == 3
        assert len(df.select(pgrab(col("id"))).collect()) == 3
        text = captured(spark.sparkContext.show_profiles)
    finally:
        spark.stop()
    found = tables(text)
    assert len(found) == 2, text
    by_source = {}
    for _, rows in found:
        by_source.update(rows)
    check_line(by_source, "kept = bytearray(50 * 2 ** 20)", 50)
    check_line(by_source, "kept = bytearray(30 * 2 ** 20)", 30)


@pytest.mark.skipif(VERSION < (4, 2), reason="the data source profiler is Spark 4.2+")
def test_data_source_profiler_memory():
    from pyspark.sql.datasource import DataSource, DataSourceReader

    class GrabReader(DataSourceReader):
        def read(self, partition):
            kept = bytearray(40 * 2 ** 20)
            yield (len(kept),)

    class GrabSource(DataSource):
        @classmethod
        def name(cls):
            return "grab"

        def schema(self):
            return "n long"

        def reader(self, schema):
            return GrabReader()

    spark = session(**{"spark.sql.pyspark.dataSource.profiler": "memory"})
    try:
        spark.dataSource.register(GrabSource)
        assert spark.read.format("grab").load().collect()[0][0] == 40 * MIB
        text = captured(lambda: spark.profile.show(type="memory"))
    finally:
        spark.stop()
    found = tables(text)
    # The data source profiler profiles PySpark's planning workers (here
    # create_data_source): a per-line table with lines that ran.
    assert found, text
    assert any(rows and all(occ >= 1 for _, _, occ in rows.values()) for _, rows in found), text
