"""Builds the `dwaca._C` extension: C++ CPU kernels always, CUDA kernels when a toolkit and a CUDA torch exist.

Build switches (environment variables, printed at build time):
  DWACA_FORCE_CPU=1        build the CPU kernels only, even where CUDA could be compiled
  FORCE_CUDA=1             fail instead of silently building CPU-only when CUDA cannot be compiled
  TORCH_CUDA_ARCH_LIST     CUDA architectures; default "8.0;9.0+PTX" when no GPU is visible
  NVCC_FLAGS               extra nvcc flags
  MAX_JOBS                 parallel compile jobs (the Makefile caps it at 2)
"""
import glob
import os

# torch looks for nvcc on PATH before /usr/local/cuda; a wrapper script there (as on this project's machines)
# would make it pick a CUDA_HOME without headers or libraries. Prefer the standard toolkit location.
if not os.environ.get("CUDA_HOME") and os.path.isfile("/usr/local/cuda/include/cuda.h"):
    os.environ["CUDA_HOME"] = "/usr/local/cuda"

import torch  # noqa: E402
from setuptools import setup  # noqa: E402
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

ROOT = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ARCHS = "8.0;9.0+PTX"


def _flag(name):
    return os.environ.get(name, "0").lower() in ("1", "true", "yes", "on")


def _want_cuda():
    # Decided by toolkit + torch build, never by torch.cuda.is_available(): build machines have no GPU.
    if _flag("DWACA_FORCE_CPU"):
        return False, "DWACA_FORCE_CPU=1"
    if torch.version.cuda is None:
        return False, "torch is a CPU-only build"
    if CUDA_HOME is None:
        return False, "no CUDA toolkit found (set CUDA_HOME)"
    return True, f"CUDA toolkit at {CUDA_HOME}, torch built for CUDA {torch.version.cuda}"


def _visible_archs():
    # Only a hint when a GPU happens to be visible at build time; the build never requires one.
    if not torch.cuda.is_available():
        return ""
    return ";".join(sorted({"%d.%d" % torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}))


def extensions():
    with_cuda, why = _want_cuda()
    if _flag("FORCE_CUDA") and not with_cuda:
        raise RuntimeError(f"FORCE_CUDA=1 but CUDA kernels cannot be built: {why}")
    # -ffp-contract=off keeps the in-kernel bilinear interpolation bit-identical to ops.reference;
    # -fno-trapping-math lets the branch-free exp/log loops vectorise (nothing here reads FP exception flags).
    cxx = ["-O3", "-fopenmp", "-ffp-contract=off", "-fno-trapping-math"]
    sources = sorted(glob.glob(os.path.join("csrc", "*.cpp")) + glob.glob(os.path.join("csrc", "cpu", "*.cpp")))
    define_macros = [("TORCH_EXTENSION_NAME", "_C")]
    kwargs = dict(extra_link_args=["-fopenmp"], include_dirs=[os.path.join(ROOT, "csrc")])
    if with_cuda:
        if not os.environ.get("TORCH_CUDA_ARCH_LIST"):
            os.environ["TORCH_CUDA_ARCH_LIST"] = _visible_archs() or DEFAULT_ARCHS
        nvcc = ["-O3", "--expt-relaxed-constexpr", "-lineinfo"] + os.environ.get("NVCC_FLAGS", "").split()
        sources += sorted(glob.glob(os.path.join("csrc", "cuda", "*.cu")))
        define_macros += [("WITH_CUDA", None), ("DWACA_CUDA_ARCH_LIST", f'"{os.environ["TORCH_CUDA_ARCH_LIST"]}"')]
        ext = CUDAExtension("dwaca._C", sources, define_macros=define_macros,
                            extra_compile_args={"cxx": cxx, "nvcc": nvcc}, **kwargs)
    else:
        ext = CppExtension("dwaca._C", sources, define_macros=define_macros,
                           extra_compile_args={"cxx": cxx}, **kwargs)
    print(f"[dwaca] CUDA kernels: {'yes' if with_cuda else 'no'} ({why}); "
          f"TORCH_CUDA_ARCH_LIST={os.environ.get('TORCH_CUDA_ARCH_LIST', '(torch default)')}; "
          f"MAX_JOBS={os.environ.get('MAX_JOBS', '(unset)')}")
    return [ext]


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)})
