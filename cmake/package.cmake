# make package: Debian packages with CPack, from the install rules (cmake/install.cmake):
#   ferryd        /usr/bin/ferryd, a systemd unit running it as the system user `ferry`
#                 (created by postinst), its configuration /etc/ferry/ferryd.conf (a conffile),
#                 its store in /var/lib/ferry
#   ferry         /usr/bin/ferry, the CLI
#   libferry-dev  headers, static libraries, the CMake package and the pkg-config files
# tests/install/package_test.sh checks their contents.
set(deb_dir ${CMAKE_BINARY_DIR}/debian/ferryd)
configure_file(deploy/debian/ferryd.postinst ${deb_dir}/postinst COPYONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE
  OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
configure_file(deploy/debian/ferryd.conffiles ${deb_dir}/conffiles COPYONLY)
foreach(script prerm postrm)
  configure_file(deploy/debian/ferryd.${script} ${deb_dir}/${script} COPYONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE
    OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()

# Only in the ferryd package (not in a plain `cmake --install`, which must not write to /etc).
install(FILES deploy/debian/ferryd.conf DESTINATION /etc/ferry COMPONENT server EXCLUDE_FROM_ALL)
install(FILES deploy/systemd/ferryd.service DESTINATION /lib/systemd/system COMPONENT server EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ferry)
set(CPACK_PACKAGE_VENDOR "the ferry project")
set(CPACK_PACKAGE_CONTACT "ferry maintainers <ferry@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server cli dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME ferryd)
set(CPACK_COMPONENT_SERVER_DESCRIPTION "NATS-protocol message broker with durable JetStream streams\n ferryd speaks the NATS client protocol byte for byte, so nats.go, nats.js,\n nats.c and every other NATS client work against it, and keeps durable streams\n that follow JetStream's API.")
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser, libc6, libstdc++6, libssl3, libspdlog1.10, libfmt9, libcrypt1")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA "${deb_dir}/postinst;${deb_dir}/prerm;${deb_dir}/postrm;${deb_dir}/conffiles")
set(CPACK_DEBIAN_CLI_PACKAGE_NAME ferry)
set(CPACK_COMPONENT_CLI_DESCRIPTION "ferry command-line client for ferryd and NATS servers\n pub, sub, request, reply, bench, and stream, consumer, key-value and\n dead-letter administration.")
set(CPACK_DEBIAN_CLI_PACKAGE_DEPENDS "libc6, libstdc++6, libnats3.4, libssl3, libspdlog1.10, libfmt9")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libferry-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION "ferry SDK for C++20 microservices messaging (development files)\n Transports (in-process, NATS, JetStream, Kafka, Redis Streams, RabbitMQ), a\n router with middleware, outbox, inbox and sagas, and ferryd embedded; static\n libraries, headers, a CMake package (find_package(ferry)) and pkg-config files.")
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libspdlog-dev, libfmt-dev, nlohmann-json3-dev, libsqlite3-dev, libpq-dev, libssl-dev, libnats-dev, librdkafka-dev, libhiredis-dev, librabbitmq-dev, libasio-dev, libcpp-httplib-dev, libgrpc++-dev, libprotobuf-dev (>= 3.21), libprotobuf-dev (<< 3.22), pkg-config")
include(CPack)
