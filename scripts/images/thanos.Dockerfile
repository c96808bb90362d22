# Local stand-in (scripts/images.sh) for quay.io/thanos/thanos: /bin/thanos, user thanos (1001).
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY thanos /bin/thanos
RUN mkdir -p /home/thanos && chown 1001:1001 /home/thanos
USER 1001
ENTRYPOINT ["/bin/thanos"]
