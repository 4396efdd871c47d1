// The part of autocannon's programmatic API the load generator uses (the package ships no types).
declare module "autocannon" {
  namespace autocannon {
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string;
    }
    interface Options {
      url: string;
      connections?: number;
      duration?: number;
      requests?: Request[];
      /** Requests a second over all connections (a fixed pace). */
      overallRate?: number;
    }
    interface Result {
      requests: { total: number; average: number };
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
    }
    interface Instance extends PromiseLike<Result> {
      on(event: "response", listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void): this;
    }
  }
  function autocannon(options: autocannon.Options): autocannon.Instance;
  export default autocannon;
}
