package io.sipalr.it;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Follows an agent's {@code GET /v1/events} and prints every line as it comes, after a first
 * line {@code TAP <HTTP status>}: run as a child JVM in a network namespace ({@code ip netns
 * exec}) to read the event stream of an agent whose control API listens on that namespace's
 * loopback. Arguments: the control port and the agent's token file.
 */
public final class EventTap {
  private EventTap() {}

  public static void main(String[] args) throws Exception {
    String token = Files.readString(Path.of(args[1])).strip();
    HttpResponse<Stream<String>> response = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1).build()
        .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + args[0] + "/v1/events"))
            .header("Authorization", "Bearer " + token).GET().build(),
            HttpResponse.BodyHandlers.ofLines());
    System.out.println("TAP " + response.statusCode());
    System.out.flush();
    response.body().forEach(line -> {
      System.out.println(line);
      System.out.flush();
    });
  }
}
