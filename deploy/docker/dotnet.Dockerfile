# syntax=docker/dockerfile:1
# One image per .NET process of Portico, built from the repository root:
#   docker buildx bake -f deploy/docker/docker-bake.json            (every image)
#   docker buildx bake -f deploy/docker/docker-bake.json ordering   (one)
# PROJECT and ASSEMBLY come from the bake file; one Dockerfile serves all services because they differ only there.

FROM mcr.microsoft.com/dotnet/sdk:10.0-alpine AS build
ARG PROJECT
WORKDIR /src
COPY . .
RUN dotnet publish "$PROJECT" -c Release -o /app -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0-alpine AS final
ARG ASSEMBLY
WORKDIR /app
COPY --from=build /app .
# Plain HTTP inside the cluster on 8080 (TLS ends at the ingress in front of the gateway). Loyalty and the gateway
# add a second, HTTP/2-only endpoint on 8081 through Kestrel__Endpoints__* in their manifests.
ENV ASPNETCORE_HTTP_PORTS=8080 \
    DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 \
    APP_DLL=${ASSEMBLY}.dll
EXPOSE 8080
# The non-root user the .NET images ship (uid 1654); the root filesystem can be mounted read-only (only /tmp is
# written, see the manifests).
USER $APP_UID
# busybox wget is in the Alpine image; the live check only asks whether the process answers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD wget -q -O /dev/null http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["/bin/sh", "-c", "exec dotnet \"$APP_DLL\""]
