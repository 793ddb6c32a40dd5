"""monde.hardware reads the CPU from /proc/cpuinfo: here a written one, so exact on every CPU."""

import monde.hardware as hardware

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni
bugs\t\t: sysret_ss_attrs

processor\t: 1
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni
"""


def test_the_cpu_is_read_from_cpuinfo(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO)
    monkeypatch.setattr(hardware, "CPUINFO", info)
    assert hardware.cpu_flags() == ["avx512_bf16", "avx512f", "avx2", "fma"]  # wanted's order
    assert hardware.cpu_flags(("fma", "amx_bf16")) == ["fma"]
    assert hardware.cpu_model() == "AMD EPYC 9R14"
    assert hardware.cpu_description() == "AMD EPYC 9R14 (AVX512-BF16)"
    info.write_text(CPUINFO.replace(" avx512_bf16", "").replace(" avx512f", ""))
    assert hardware.cpu_description() == "AMD EPYC 9R14 (AVX2)"


def test_without_cpuinfo_the_answer_is_what_platform_knows(tmp_path, monkeypatch):
    monkeypatch.setattr(hardware, "CPUINFO", tmp_path / "missing")
    monkeypatch.setattr(hardware.platform, "processor", lambda: "")
    monkeypatch.setattr(hardware.platform, "machine", lambda: "arm64")
    assert hardware.cpu_flags() == []
    assert hardware.cpu_description() == "arm64 (other)"
    assert hardware.isa_class(["amx_bf16", "avx512_bf16", "avx512f"]) == "AMX"
