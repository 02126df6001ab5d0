# A plugin image: the plugin as a static binary on a distroless base, run as
# a non-root user. Build another plugin with --build-arg PLUGIN=./path/to/main:
#
#   docker build -t registry.example/greeter:1 --build-arg PLUGIN=./examples/greeter/plugins/greeter-en .
#
# Deploy it pinned by the digest the push prints (tether kube deploy --pinned).
FROM golang:1.26 AS build
ARG PLUGIN=./examples/greeter/plugins/greeter-en
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /plugin "$PLUGIN"

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /plugin /plugin
# TETHER_LISTEN, the TLS files and the port come from the Deployment
# (tether kube deploy sets them); the plugin serves on the network when
# TETHER_LISTEN is set.
ENTRYPOINT ["/plugin"]
