# Local stand-in (scripts/images.sh) for chrislusf/seaweedfs: /usr/bin/weed, user seaweed (1000),
# WORKDIR /data. Upstream's entrypoint script only drops root privileges and
# execs weed; our containers start as uid 1000 directly, so weed is the entrypoint.
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY weed /usr/bin/weed
RUN mkdir -p /data && chown 1000:1000 /data
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8333 9333 8888
ENTRYPOINT ["/usr/bin/weed"]
CMD ["-logtostderr=true", "mini", "-dir=/data"]
