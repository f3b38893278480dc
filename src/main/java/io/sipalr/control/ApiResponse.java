package io.sipalr.control;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Map;

/**
 * An answer of the API before it becomes HTTP.
 *
 * @param body the JSON body, or {@code null} for none (204)
 * @param headers extra response headers, e.g. Location
 */
record ApiResponse(HttpResponseStatus status, JsonNode body, Map<String, String> headers) {

  ApiResponse {
    headers = Map.copyOf(headers);
  }

  static ApiResponse ok(JsonNode body) {
    return new ApiResponse(HttpResponseStatus.OK, body, Map.of());
  }

  static ApiResponse accepted(JsonNode body) {
    return new ApiResponse(HttpResponseStatus.ACCEPTED, body, Map.of());
  }

  static ApiResponse noContent() {
    return new ApiResponse(HttpResponseStatus.NO_CONTENT, null, Map.of());
  }
}
