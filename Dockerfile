# syntax=docker/dockerfile:1
# DetailFlow API image (docker compose up --build, or):
#   CPU (default):  docker build -t detailflow-api:cpu .
#   CUDA:           docker build --build-arg BACKEND=cuda -t detailflow-api:cuda .   (libtorch-cuda-12.8; NVIDIA base)
# Configuration is by environment variables, Section__Key (ModelOptions__GptPath, ConnectionStrings__Redis, ...):
# see docs/deploy.md. Listens on 8080 (ASPNETCORE_HTTP_PORTS) as the non-root user `app`; SIGTERM drains.
ARG BACKEND=cpu
ARG DOTNET_TAG=10.0-noble
ARG CUDA_BASE=nvidia/cuda:12.8.1-base-ubuntu24.04

# ---- build: restore (its own layer, keyed by the project files), then publish linux-x64 only --------------------
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_TAG} AS build
ARG BACKEND
WORKDIR /src
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/PatchGlibcxx.targets build/
COPY src/DetailFlow.Core/DetailFlow.Core.csproj src/DetailFlow.Core/
COPY src/DetailFlow.Training/DetailFlow.Training.csproj src/DetailFlow.Training/
COPY src/DetailFlow.Api/DetailFlow.Api.csproj src/DetailFlow.Api/
RUN dotnet restore src/DetailFlow.Api/DetailFlow.Api.csproj -r linux-x64 -p:TorchBackend=${BACKEND}
COPY appsettings.json ./
COPY models/default/ models/default/
COPY src/DetailFlow.Core/ src/DetailFlow.Core/
COPY src/DetailFlow.Training/ src/DetailFlow.Training/
COPY src/DetailFlow.Api/ src/DetailFlow.Api/
# Publish runs build/PatchGlibcxx.targets on the published libLibTorchSharp.so (harmless here: Ubuntu 24.04's
# libstdc++ has GLIBCXX_3.4.33). The csproj places the default model at /app/models/default. The .so files removed
# are libtorch test/python backends the service never loads (-33 MB).
RUN dotnet publish src/DetailFlow.Api/DetailFlow.Api.csproj -c Release -r linux-x64 --self-contained false --no-restore \
        -p:TorchBackend=${BACKEND} -o /app \
 && rm -f /app/libtorch_python.so /app/libjitbackend_test.so /app/libtorchbind_test.so /app/libnnapi_backend.so \
          /app/libbackend_with_compiler.so /app/libaoti_custom_ops.so /app/*.pdb \
 && test -f /app/models/default/gpt.safetensors && test -f /app/libLibTorchSharp.so

# ---- runtime bases ------------------------------------------------------------------------------------------------
# CPU: the ASP.NET Core runtime image (Ubuntu 24.04: GCC 14 libstdc++, so TorchSharp loads without the patch too).
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_TAG} AS aspnet

FROM aspnet AS runtime-cpu
# SkiaSharp's native library (PNG encoding) links fontconfig.
RUN apt-get update && apt-get install -y --no-install-recommends libfontconfig1 && rm -rf /var/lib/apt/lists/*

# CUDA: NVIDIA's Ubuntu 24.04 base (driver hooks only; the libtorch-cuda package carries its own CUDA/cuDNN libraries)
# with the ASP.NET Core runtime copied from the official image and the same non-root user (uid 1654).
FROM ${CUDA_BASE} AS runtime-cuda
COPY --from=aspnet /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && apt-get update && apt-get install -y --no-install-recommends ca-certificates libicu74 libssl3t64 tzdata zlib1g libfontconfig1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1654 app && useradd --uid 1654 --gid app --no-create-home --shell /usr/sbin/nologin app
ENV APP_UID=1654 DOTNET_RUNNING_IN_CONTAINER=true ModelOptions__Device=cuda \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility

# ---- final ----------------------------------------------------------------------------------------------------------
FROM runtime-${BACKEND} AS final
WORKDIR /app
COPY --from=build /app ./
# Admin jobs (datasets, runs, checkpoints, jobs.json without Redis) live in /data, writable by the non-root user; mount a
# volume there (shared by every replica when they share Redis).
RUN mkdir -p /data && chown $APP_UID /data
# One malloc arena: glibc reads it at start only; with its default (eight per core) a large model's arenas kept
# spreading over new pages under load (docs/memory.md).
ENV ASPNETCORE_HTTP_PORTS=8080 \
    OMP_WAIT_POLICY=PASSIVE \
    MALLOC_ARENA_MAX=1 \
    Admin__DataFolder=/data
EXPOSE 8080
VOLUME /data
USER $APP_UID
# /healthz through the binary itself (the image has no curl); start-period covers loading the model.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["dotnet", "/app/DetailFlow.Api.dll", "--healthcheck"]
# Exec form: dotnet is PID 1 and receives SIGTERM (docker stop), which drains (BatcherOptions__DrainSeconds).
ENTRYPOINT ["dotnet", "/app/DetailFlow.Api.dll"]
