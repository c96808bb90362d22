# Local stand-in (scripts/images.sh) for quay.io/prometheus/prometheus, built from binaries compiled
# here (no registry is reachable). Same layout as upstream: /bin/prometheus,
# /bin/promtool, WORKDIR /prometheus owned by nobody (65534), USER nobody.
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY prometheus promtool /bin/
COPY prometheus.yml /etc/prometheus/prometheus.yml
RUN mkdir -p /prometheus && chown -R 65534:65534 /prometheus /etc/prometheus
USER 65534
WORKDIR /prometheus
EXPOSE 9090
VOLUME ["/prometheus"]
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
