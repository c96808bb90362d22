# Local stand-in (scripts/images.sh) for quay.io/prometheus/alertmanager, built from binaries compiled
# here (no registry is reachable). Same layout as upstream: /bin/alertmanager,
# /bin/amtool, /etc/alertmanager/alertmanager.yml, WORKDIR /alertmanager owned
# by nobody (65534), USER nobody. The web UI is a placeholder page (the Go
# module has no npm build output); the API is complete.
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY alertmanager amtool /bin/
COPY alertmanager.yml /etc/alertmanager/alertmanager.yml
RUN mkdir -p /alertmanager && chown -R 65534:65534 /alertmanager /etc/alertmanager
USER 65534
WORKDIR /alertmanager
EXPOSE 9093
VOLUME ["/alertmanager"]
ENTRYPOINT ["/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
