export function GpusPage() { return <div className="page">gpus</div>; }
